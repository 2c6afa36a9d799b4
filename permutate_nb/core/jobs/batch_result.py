"""A batch's result: its rows as the documented DataFrame, with the job's id and status.

``to_pandas()`` is the result DataFrame (the columns of ``RESULT_COLUMNS`` first, the CSV's
carried columns after; ``attrs`` holds ``job_id`` and ``status``). The result also reads like
that DataFrame (``result["status"]``, ``result.loc[0, "result"]``, ``len(result)``), so
notebooks written against the DataFrame keep working.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

from .result_base import Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BatchResult", "batch_frame", "RESULT_COLUMNS"]

RESULT_COLUMNS = ["row", "prompt", "model", "result", "status", "error", "duration_sec",
                  "prompt_tokens", "completion_tokens", "total_tokens", "cost"]


def batch_frame(rows: list[dict[str, Any]]) -> "pd.DataFrame":
    """Result rows as a DataFrame: the result columns first, carried columns after."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    return frame[[c for c in RESULT_COLUMNS if c in frame] + [c for c in frame.columns if c not in RESULT_COLUMNS]]


class BatchResult(Result):
    __slots__ = ("job_id", "status", "_frame")

    def __init__(self, job_id: str | None, status: str, frame: "pd.DataFrame") -> None:
        self.job_id, self.status, self._frame = job_id, status, frame
        frame.attrs["job_id"], frame.attrs["status"] = job_id, status

    def to_pandas(self) -> "pd.DataFrame":
        return self._frame

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._frame, name)

    def __getitem__(self, key: Any) -> Any:
        return self._frame[key]

    def __len__(self) -> int:
        return len(self._frame)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._frame)

    def __repr__(self) -> str:
        counts = self._frame["status"].value_counts().to_dict() if len(self._frame) else {}
        done = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        return f"BatchResult({self.job_id!r}, status={self.status!r}, rows={len(self._frame)}{': ' + done if done else ''})"
