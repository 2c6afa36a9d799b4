"""Tables without importing pandas: is it a DataFrame, is a cell empty (None or NaN)."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["is_dataframe", "is_nan", "is_blank"]


def is_dataframe(value: Any) -> bool:
    """True for a pandas DataFrame, without importing pandas when the caller has not."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)


def is_nan(value: Any) -> bool:
    """A float NaN (what pandas leaves in an empty cell); NaN is the one value not equal to itself."""
    return isinstance(value, float) and value != value


def is_blank(value: Any) -> bool:
    """None, NaN or a string of whitespace: a cell with nothing in it."""
    return value is None or is_nan(value) or (isinstance(value, str) and not value.strip())
