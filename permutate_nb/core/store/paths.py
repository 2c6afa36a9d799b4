"""Where permutate_nb keeps its files: ``$PERMUTATE_HOME``, by default ``~/.permutate``."""

from __future__ import annotations

from pathlib import Path

from ...settings import settings

__all__ = ["permutate_home"]


def permutate_home() -> Path:
    """The home folder, ``$PERMUTATE_HOME`` (default ``~/.permutate``), read from the settings at each call."""
    return settings().home_dir()
