"""The job kinds by the name the store records, for what works on any stored job: resume, results.

Each kind is a ``runner.Job`` class with ``from_request`` (plan the job again from its stored
request) and ``stored_result`` (its result from the stored record and rows); callers look the
kind up here instead of switching on kind strings.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from .batch import BatchJob
from ..context import Context, default_context
from .permutate import PermutateJob
from .evals.runner import EvalJob
from .events import Reporter
from .result_base import Result
from .launch import launch
from .runner import Job, blocking
from ..store.job_store import JobStore
from ..store.stored_rows import StoredRows

__all__ = ["KINDS", "resume", "resume_async", "results"]

log = logging.getLogger("permutate_nb")

KINDS: dict[str, type[Job[Any]]] = {job.kind: job for job in (PermutateJob, BatchJob, EvalJob)}


async def resume_async(job_id: str, *, reporter: Reporter | None = None, concurrency: int | None = None,
                       cache: bool | None = None, store: JobStore | None = None,
                       context: Context | None = None, executor: Any = None) -> Result:
    """Finish a stored job of any kind: only the units without a stored row are run.

    ``executor`` (``"ray"``, a ``config.executor`` mapping) overrides the one the job was run with."""
    store = store or (context or default_context()).store()
    record = store.job(job_id)
    job = await asyncio.to_thread(KINDS[record["kind"]].from_request, record["request"])
    log.info("resuming %s job %s: %d of %d runs stored", record["kind"], job_id, record.get("finished_runs") or 0,
             record.get("planned_runs") or 0)
    return await launch(job, store=store, job_id=job_id, done=StoredRows(store.path, job_id).items(), reporter=reporter,
                         concurrency=concurrency, cache=cache, context=context, executor=executor)


def resume(job_id: str, **kwargs: Any) -> Result:
    """Blocking ``resume_async``; Ctrl-C returns what finished, marked CANCELLED."""
    return blocking(resume_async(job_id, **kwargs))


def results(job_id: str, *, store: JobStore | None = None) -> Result:
    """A job's result from the store (also while it runs); its status is the store's."""
    store = store or default_context().store()
    record = store.job(job_id)
    return KINDS[record["kind"]].stored_result(record, StoredRows(store.path, job_id))
