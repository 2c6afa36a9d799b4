"""Reading the job store: status, results and the list of jobs, for the API, the CLI and notebooks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .results import JobResult, RunDetail
from .store import JobStore

__all__ = ["status", "results", "jobs", "result_from_store"]

_STATUS_FIELDS = ("id", "kind", "name", "status", "attempts", "planned_runs", "finished_runs", "created_at",
                  "started_at", "ended_at", "updated_at", "error_code", "error_message")


def status(job_id: str, *, store: JobStore | None = None) -> dict[str, Any]:
    """The job's record: status, attempts, times, error, planned and finished runs."""
    job = (store or JobStore()).job(job_id)
    return {key: job[key] for key in _STATUS_FIELDS}


def _seconds(start: str | None, end: str | None) -> float:
    if not start or not end:
        return 0.0
    parse = lambda t: datetime.fromisoformat(t.replace("Z", "+00:00"))  # noqa: E731
    return round((parse(end) - parse(start)).total_seconds(), 3)


def result_from_store(job: dict[str, Any], rows: dict[int, dict[str, Any]]) -> JobResult:
    """A permutate job's JobResult rebuilt from its stored record and run rows."""
    request = job["request"]
    data = job.get("data") or {}
    return JobResult(
        job_name=data.get("job_name") or f"{request.get('name')}-{request.get('version', '1.0.0')}-{job['created_at'][:10]}",
        started_on=job["started_at"] or job["created_at"],
        completed_on=job["ended_at"] or "",
        test_plugin=request.get("test_plugin"),
        permutations=request.get("permutations", []),
        details=[RunDetail.from_dict(rows[i]) for i in sorted(rows)],
        total_run_time=_seconds(job["started_at"], job["ended_at"]),
        status="cancelled" if job["status"] == "CANCELLED" else ("completed" if job["ended_at"] else "running"),
        planned_runs=job["planned_runs"],
        request=request,
        job_id=job["id"],
    )


def results(job_id: str, *, store: JobStore | None = None) -> Any:
    """A permutate job's JobResult, a batch's DataFrame or an EvalResult, from the store (also while it runs)."""
    store = store or JobStore()
    job = store.job(job_id)
    rows = store.runs(job_id)
    if job["kind"] == "batch":
        from .batch import batch_frame

        return batch_frame([rows[i] for i in sorted(rows)])
    if job["kind"] == "eval":
        from .evals.results import EvalResult

        return EvalResult.from_store(job, [rows[i] for i in sorted(rows)])
    return result_from_store(job, rows)


def jobs(kind: str | None = None, *, store: JobStore | None = None) -> Any:
    """Every stored job (or those of one kind) as a DataFrame, oldest first."""
    import pandas as pd

    records = (store or JobStore()).jobs(kind)
    columns = ["id", "kind", "name", "status", "attempts", "planned_runs", "finished_runs", "created_at",
               "started_at", "ended_at", "error_code", "error_message"]
    return pd.DataFrame(records, columns=columns)
