"""The jobs run in this kernel session, for ``%permutate jobs``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..core.results import JobResult

__all__ = ["record", "jobs_frame"]

_JOBS: list["JobResult"] = []


def record(result: "JobResult") -> None:
    _JOBS.append(result)


def jobs_frame() -> Any:
    import pandas as pd

    rows = []
    for r in _JOBS:
        s = r.summary
        rows.append({
            "job_id": r.job_id, "job_name": r.job_name, "status": r.status, "runs": s["total_test_cases"],
            "planned_runs": r.planned_runs, "overall_accuracy": s["overall_accuracy"], "failed_cases": s["failed_cases"],
            "started_on": r.started_on,
        })
    return pd.DataFrame(rows, columns=["job_id", "job_name", "status", "runs", "planned_runs", "overall_accuracy",
                                       "failed_cases", "started_on"])
