"""A handle on one run's transcript (``result.transcript(i)``, ``result.show(run)``), drawn by the faces.

The core only points at the run: the notebook renders it (through ``core.hooks``), so a
transcript displays where the result does, as HTML in a notebook and as text elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import hooks

__all__ = ["RunTranscript", "run_index", "find_row"]


@dataclass(frozen=True, slots=True)
class RunTranscript:
    """Run ``index`` of ``result``: displays as its transcript; ``html()`` and ``str()`` give it as text."""

    result: Any
    index: int

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return hooks.render(self, include, exclude)

    def html(self) -> str:
        """The transcript as an HTML fragment (every string escaped)."""
        return hooks.render(self).get("text/html", "")

    def __str__(self) -> str:
        return hooks.render(self)["text/plain"]


def run_index(count: int, index: int) -> int:
    """``index`` (negative counts from the end) checked against ``count`` runs, in one clear line."""
    if not isinstance(index, int) or isinstance(index, bool):
        raise TypeError(f"run must be an index (int) or one of the result's rows, not {type(index).__name__}")
    if not -count <= index < count:
        raise IndexError(f"run {index} is out of range: this result has {count} run{'s' if count != 1 else ''}"
                         + (f" (0 to {count - 1})" if count else ""))
    return index % count


def find_row(rows: Any, run: Any, keys: tuple[str, ...]) -> int:
    """The index of the row whose ``keys`` equal ``run``'s (a row object, a dict or a pandas Series)."""
    def get(row: Any, key: str) -> Any:
        return row.get(key) if isinstance(row, Mapping) or hasattr(row, "get") else getattr(row, key, None)

    wanted = tuple(get(run, key) for key in keys)
    for index, row in enumerate(rows):
        if row is run or tuple(get(row, key) for key in keys) == wanted:
            return index
    raise LookupError(f"no run of this result has {', '.join(f'{k}={v!r}' for k, v in zip(keys, wanted))}")
