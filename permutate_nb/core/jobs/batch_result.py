"""A batch's result: its rows as the documented DataFrame, with the job's id and status.

``frame`` (also ``to_pandas()``) is the result DataFrame (the columns of ``RESULT_COLUMNS`` first,
the CSV's carried columns after; ``attrs`` holds ``job_id`` and ``status``). The result does not
pose as that DataFrame: ``result.status`` is the job's status, ``result.frame["status"]`` the rows'.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .result_base import Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BatchResult", "batch_frame", "RESULT_COLUMNS"]

RESULT_COLUMNS = ["row", "prompt", "model", "result", "status", "error", "duration_sec",
                  "prompt_tokens", "completion_tokens", "total_tokens", "cost"]


def batch_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Result rows as a DataFrame: the result columns first, carried columns after."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    return frame[[c for c in RESULT_COLUMNS if c in frame] + [c for c in frame.columns if c not in RESULT_COLUMNS]]


class BatchResult(Result):
    """A batch's result: the rows as a DataFrame (``frame``), with the job's id, status and record.

    ``frame`` (and ``to_pandas()``) has the columns ``row`` (1-based), ``prompt`` (as sent,
    ``${output.n}`` filled), ``model``, ``result``, ``status`` (the row's: completed, failed or
    timeout), ``error``, ``duration_sec``, ``prompt_tokens``, ``completion_tokens``,
    ``total_tokens``, ``cost``, then the CSV's carried columns.

    Attributes:
        job_id: The job's id in the job store.
        status: The job's status (``JobStatus``: SUCCESS, PARTIAL_SUCCESS, ERROR, CANCELLED, ...), also
            in ``frame.attrs["status"]``.
        record: The job store's record of the job (times, planned runs, error), when it was stored.
    """

    kind = "batch"
    _run_keys = ("row",)
    __slots__ = ("job_id", "status", "_frame", "record")

    def __init__(self, job_id: str | None, status: str, frame: pd.DataFrame,
                 record: dict[str, Any] | None = None) -> None:
        self.job_id, self.status, self._frame, self.record = job_id, status, frame, record
        frame.attrs["job_id"], frame.attrs["status"] = job_id, status

    @property
    def frame(self) -> pd.DataFrame:
        """The result DataFrame: one row per execution."""
        return self._frame

    def to_pandas(self) -> pd.DataFrame:
        """The result DataFrame (``attrs`` holds ``job_id`` and ``status``)."""
        return self._frame

    def _run_rows(self) -> list[dict[str, Any]]:
        return self._frame.to_dict("records")

    @property
    def finished(self) -> int:
        """Rows in the result's frame, stored or not (a batch run without a store has no record to count)."""
        return len(self._frame)

    def __len__(self) -> int:
        return len(self._frame)

    def __repr__(self) -> str:
        counts = self._frame["status"].value_counts().to_dict() if len(self._frame) else {}
        done = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        return f"BatchResult({self.job_id!r}, status={str(self.status)!r}, rows={len(self._frame)}{': ' + done if done else ''})"
