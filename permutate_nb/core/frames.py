"""Is it a DataFrame? Asked without importing pandas: if pandas was never imported, nothing is one."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["is_dataframe"]


def is_dataframe(value: Any) -> bool:
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)
