"""The base of every job's result (``JobResult``, ``BatchResult``, ``EvalResult``, ``GenerateResult``).

One surface for every kind: ``job_id``, ``kind``, ``status`` (``JobStatus``), ``error``,
``started_at``, ``ended_at``, ``planned`` and ``finished`` (runs), ``to_pandas()``,
``write(path)`` by extension (.json, .csv, .xlsx, .html, through ``permutate_nb.export``), the same
rich display in a notebook (through ``core.hooks``) and a transcript per run (``transcript(i)``,
``show(run)``). The times and counts come from the job
store's record of the job (``record``) where the result has one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .. import hooks
from .transcript import RunTranscript, find_row, run_index

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Result"]


class Result:
    """What every job kind's result shares: status, times and counts, exports, notebook display, transcripts."""

    __slots__ = ()
    kind: ClassVar[str]
    job_id: str | None
    status: str
    #: The fields that name a run, for ``show(run)`` with a row rather than an index.
    _run_keys: ClassVar[tuple[str, ...]] = ()

    def _record(self) -> dict[str, Any]:
        """The job store's record of the job (empty for a job run without a store)."""
        return getattr(self, "record", None) or {}

    @property
    def error(self) -> str | None:
        """Why the job ended in ERROR (or what failed in a PARTIAL_SUCCESS), else None."""
        return self._record().get("error_message")

    @property
    def started_at(self) -> str | None:
        """When the job (its latest attempt) started, ISO 8601 in UTC."""
        return self._record().get("started_at")

    @property
    def ended_at(self) -> str | None:
        """When the job ended, ISO 8601 in UTC (None while it runs)."""
        return self._record().get("ended_at")

    @property
    def planned(self) -> int:
        """Runs (units) the job has in all."""
        return int(self._record().get("planned_runs") or 0)

    @property
    def finished(self) -> int:
        """Runs (units) with a stored row."""
        return int(self._record().get("finished_runs") or 0)

    def to_pandas(self) -> pd.DataFrame:
        """The result as one table: detail rows, batch rows, or eval scores."""
        raise NotImplementedError

    def _run_rows(self) -> Any:
        """The runs a transcript can show, in the order ``transcript(i)`` counts them."""
        raise TypeError(f"a {self.kind} result has no runs to show")

    def transcript(self, i: int) -> RunTranscript:
        """Run ``i``'s transcript (negative counts from the end): what was sent, offered, answered and scored."""
        return RunTranscript(self, run_index(len(self._run_rows()), i))

    def show(self, run: Any) -> RunTranscript:
        """The transcript of ``run``: an index, or one of the result's rows (a detail row, a batch or eval record)."""
        if isinstance(run, int) and not isinstance(run, bool):
            return self.transcript(run)
        return RunTranscript(self, find_row(self._run_rows(), run, self._run_keys))

    def write(self, path: str | Path) -> Path:
        """Write by extension: .json, .jsonl, .csv, .xlsx, .parquet, or .html (the report, one self-contained page)."""
        return hooks.write(self, path)

    def to_json(self, path: str | Path) -> Path:
        """Write the result as JSON whatever ``path`` ends with (``write`` picks by extension)."""
        return hooks.write(self, path, ".json")

    def to_csv(self, path: str | Path) -> Path:
        """Write the result's table as CSV whatever ``path`` ends with."""
        return hooks.write(self, path, ".csv")

    def to_excel(self, path: str | Path) -> Path:
        """Write the result as an Excel workbook (.xlsx) whatever ``path`` ends with."""
        return hooks.write(self, path, ".xlsx")

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return hooks.render(self, include, exclude)
