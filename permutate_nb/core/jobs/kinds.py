"""The job kinds by the name the store records, for what works on any stored job: resume, results.

Each kind is a ``runner.Job`` class with ``from_request`` (plan the job again from its stored
request) and ``stored_result`` (its result from the stored record and rows); callers look the
kind up here instead of switching on kind strings.
"""

from __future__ import annotations

from typing import Any

from ..context import default_context
from ..store.job_store import JobStore
from ..store.stored_rows import StoredRows
from .batch import BatchJob
from .bfcl import BfclJob
from .evals.runner import EvalJob
from .generate import GenerateJob
from .permutate import PermutateJob
from .result_base import Result
from .runner import Job

__all__ = ["KINDS", "results"]

KINDS: dict[str, type[Job[Any]]] = {job.kind: job for job in (PermutateJob, BatchJob, EvalJob, GenerateJob, BfclJob)}


def results(job_id: str, *, store: JobStore | None = None) -> Result:
    """A job's result from the store (also while it runs); its status is the store's."""
    store = store or default_context().store()
    record = store.job(job_id)
    return KINDS[record["kind"]].stored_result(record, StoredRows(store.path, job_id))
