"""The base of every job's result (permutate ``JobResult``, ``BatchResult``, ``EvalResult``).

One surface for the three kinds: ``job_id`` and ``status`` (the job store's vocabulary,
``core.status``), ``to_pandas()``, ``write(path)`` by extension (.json, .csv, .xlsx, through
``permutate_nb.export``) and the same rich display in a notebook (through ``core.hooks``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import hooks

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Result"]


class Result:
    __slots__ = ()
    job_id: str | None
    status: str

    def to_pandas(self) -> "pd.DataFrame":
        """The result as one table: detail rows, batch rows, or eval scores."""
        raise NotImplementedError

    def write(self, path: str | Path) -> Path:
        """Write by extension: .json, .jsonl, .csv, .xlsx or .parquet."""
        return hooks.write(self, path)

    def to_json(self, path: str | Path) -> Path:
        return hooks.write(self, path, ".json")

    def to_csv(self, path: str | Path) -> Path:
        return hooks.write(self, path, ".csv")

    def to_excel(self, path: str | Path) -> Path:
        return hooks.write(self, path, ".xlsx")

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return hooks.render(self, include, exclude)
