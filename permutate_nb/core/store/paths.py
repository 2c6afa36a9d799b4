"""Where permutate_nb keeps its files: ``$PERMUTATE_HOME``, by default ``~/.permutate``."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["permutate_home"]


def permutate_home() -> Path:
    return Path(os.environ.get("PERMUTATE_HOME") or "~/.permutate").expanduser()
