"""The job kinds: the one table of them, for what works on any job (launch, resume, results).

Each kind is a ``runner.Job`` class with ``from_request`` (plan the job again from its stored
request) and ``stored_result`` (its result from the stored record and rows). ``KINDS`` names,
for each kind the store records, its Job class and the plan class it runs, as ``"module:Class"``
inside this package: a kind's module is imported when a job of that kind is first met, so a
``permutate run`` loads no batch, eval or generate code. Callers look kinds up here instead of
switching on kind strings or plan types.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..context import default_context
from ..store.job_store import JobStore
from ..store.stored_rows import StoredRows
from .result_base import Result
from .runner import Job

__all__ = ["KINDS", "job_class", "job_for", "results"]

#: kind (as stored) -> (its Job class, the plan class it is made from; None: made only by name)
KINDS: dict[str, tuple[str, str | None]] = {
    "permutate": ("permutate:PermutateJob", "permutate:JobPlan"),
    "batch": ("batch:BatchJob", "batch:BatchPlan"),
    "eval": ("evals.runner:EvalJob", "evals.plan:EvalPlan"),
    "generate": ("generate:GenerateJob", "generate:GeneratePlan"),
    "bfcl": ("bfcl:BfclJob", None),  # its plan is a permutate JobPlan: ``api`` asks for this kind by name
}

_PLANS = {f"{__package__}.{plan.replace(':', '.')}": kind for kind, (_, plan) in KINDS.items() if plan is not None}


def _load(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(f".{module}", __package__), name)


def job_class(kind: str) -> type[Job[Any]]:
    """The Job class of a stored ``kind``."""
    cls: type[Job[Any]] = _load(KINDS[kind][0])
    return cls


def job_for(plan: Any, kind: str | None = None) -> Job[Any]:
    """The job that runs ``plan`` (from ``plan_job``, ``plan_batch``, ``plan_eval`` or ``plan_generate``);
    ``kind`` for a kind whose plan is another kind's (bfcl)."""
    kind = kind or _PLANS.get(f"{type(plan).__module__}.{type(plan).__qualname__}")
    if kind is None:
        raise TypeError(f"not a plan: {type(plan).__name__}")
    return job_class(kind)(plan)  # type: ignore[call-arg]


def results(job_id: str, *, store: JobStore | None = None) -> Result:
    """A job's result from the store (also while it runs); its status is the store's."""
    store = store or default_context().store()
    record = store.job(job_id)
    return job_class(record["kind"]).stored_result(record, StoredRows(store.path, job_id))
