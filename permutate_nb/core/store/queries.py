"""Reading the job store: a job's status and the list of jobs (``kinds.results`` reads a result)."""

from __future__ import annotations

from typing import Any

from .job_store import JobStore

__all__ = ["status", "jobs"]

_STATUS_FIELDS = ("id", "kind", "name", "status", "attempts", "planned_runs", "finished_runs", "created_at",
                  "started_at", "ended_at", "updated_at", "error_code", "error_message")


def status(job_id: str, *, store: JobStore | None = None) -> dict[str, Any]:
    """The job's record: status, attempts, times, error, planned and finished runs."""
    job = (store or JobStore()).job(job_id)
    return {key: job[key] for key in _STATUS_FIELDS}


def jobs(kind: str | None = None, *, store: JobStore | None = None) -> Any:
    """Every stored job (or those of one kind) as a DataFrame, oldest first."""
    import pandas as pd

    records = (store or JobStore()).jobs(kind)
    columns = ["id", "kind", "name", "status", "attempts", "planned_runs", "finished_runs", "created_at",
               "started_at", "ended_at", "error_code", "error_message"]
    return pd.DataFrame(records, columns=columns)
