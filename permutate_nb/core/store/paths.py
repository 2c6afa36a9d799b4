"""Where permutate_nb keeps its files: ``$PERMUTATE_HOME``, by default ``~/.permutate``."""

from __future__ import annotations

from pathlib import Path

from ...settings import settings

__all__ = ["permutate_home"]


def permutate_home() -> Path:
    return settings().home_dir()
