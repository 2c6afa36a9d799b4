"""Batch executions: prompts x models, ``${output.n}`` chaining, limits, a stored job per batch.

A batch is one more job kind on the same machinery as permutate jobs: the worker pool,
``LLMClient`` (cache, retries), the job store (each row saved as it finishes, resume) and
reporter events. Rows without dependencies run concurrently; a row that uses
``${output.n}`` waits for row n, and fails with that reason if row n failed.
"""

from __future__ import annotations

import asyncio
import threading
import time
from types import SimpleNamespace
from typing import Any, Mapping

from ..errors import PermutateError
from .batch_input import OUTPUT_REF, BatchLimits, BatchRow, check_rows, load_models, model_config, read_rows
from .events import JobStarted, Reporter, RunOutcome
from .executor import run_pool, stored_job
from .factory import JobResources, check_llm
from .llm.base import ChatRequest
from .request import JobConfig, LLMConfig
from .store import JobStore, ReportNow, utc_now

__all__ = ["BatchPlan", "plan_batch", "batch_async", "resume_batch_async", "batch_frame", "run_batch", "submit_batch",
           "process_csv", "RESULT_COLUMNS"]

RESULT_COLUMNS = ["row", "prompt", "model", "result", "status", "error", "duration_sec",
                  "prompt_tokens", "completion_tokens", "total_tokens", "cost"]
_SLOTS: dict[int, threading.BoundedSemaphore] = {}
_SLOTS_LOCK = threading.Lock()


class BatchPlan:
    """Validated rows, their LLM configurations and the limits in force."""

    def __init__(self, rows: list[BatchRow], models: dict[str, dict[str, Any]], limits: BatchLimits, name: str) -> None:
        self.rows, self.models, self.limits, self.name = rows, models, limits, name
        self.configs: dict[int, LLMConfig] = {row.number: model_config(row.model, models, row) for row in rows}
        for number, llm in self.configs.items():  # a missing key, extra or model file stops the batch here
            check_llm(llm, f"row {number} ({rows[number - 1].model})")

    def request(self) -> dict[str, Any]:
        return {"name": self.name, "rows": [r.to_dict() for r in self.rows], "models": self.models}


def plan_batch(source: Any, *, models: Mapping[str, Any] | str | None = None, limits: BatchLimits | None = None,
               name: str = "batch") -> BatchPlan:
    """Read and check a batch; calls no model. Raises RequestError naming the row and the limit."""
    limits = limits or BatchLimits.from_env()
    rows = read_rows(source, limits)
    check_rows(rows, limits)
    return BatchPlan(rows, load_models(models), limits, name)


def batch_frame(rows: list[dict[str, Any]]) -> Any:
    """Result rows as a DataFrame: the result columns first, carried columns after."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    return frame[[c for c in RESULT_COLUMNS if c in frame] + [c for c in frame.columns if c not in RESULT_COLUMNS]]


def _slots(limit: int) -> threading.BoundedSemaphore:
    """MAX_CONCURRENT_BATCHES: batches beyond it wait (status PENDING) for a free slot."""
    with _SLOTS_LOCK:
        if limit not in _SLOTS:
            _SLOTS[limit] = threading.BoundedSemaphore(limit)
        return _SLOTS[limit]


async def batch_async(plan: BatchPlan, *, reporter: Reporter | None = None, concurrency: int | None = None,
                      cache: bool = True, store: JobStore | bool = True, job_id: str | None = None) -> Any:
    """Run a planned batch; returns the result DataFrame (``frame.attrs['job_id']`` names the stored job)."""
    job_store = JobStore() if store is True else (store or None)
    if job_store is not None and job_id is None:
        job_id = job_store.create_job("batch", plan.name, plan.request(), len(plan.rows))
    return await _execute(plan, job_id, job_store, {}, reporter, concurrency, cache)


async def resume_batch_async(job_id: str, *, reporter: Reporter | None = None, concurrency: int | None = None,
                             cache: bool = True, store: JobStore | None = None) -> Any:
    """Run the rows of a stored batch that have no stored result."""
    job_store = store or JobStore()
    request = job_store.job(job_id)["request"]
    plan = plan_batch(request["rows"], models=request.get("models"), name=request.get("name", "batch"))
    done = {i: row for i, row in job_store.runs(job_id).items()}
    return await _execute(plan, job_id, job_store, done, reporter, concurrency, cache)


async def _execute(plan: BatchPlan, job_id: str | None, job_store: JobStore | None, done: dict[int, dict[str, Any]],
                   reporter: Reporter | None, concurrency: int | None, cache: bool) -> Any:
    reporter = reporter or Reporter()
    slot = _slots(plan.limits.max_concurrent_batches)
    await asyncio.to_thread(slot.acquire)
    try:
        return await _run_rows(plan, job_id, job_store, done, reporter, concurrency, cache)
    finally:
        slot.release()


async def _run_rows(plan: BatchPlan, job_id: str | None, job_store: JobStore | None, done: dict[int, dict[str, Any]],
                    reporter: Reporter, concurrency: int | None, cache: bool) -> Any:
    limits = plan.limits
    width = concurrency or limits.max_threads
    if job_store is not None and job_id is not None:
        job_store.acquire_lease(job_id)  # refuses a job another live process runs
        job_store.start(job_id)
    # a row is reported done once it is committed
    writer = (job_store.run_writer(job_id, reporter.run_finished) if job_store is not None and job_id is not None
              else ReportNow(reporter.run_finished))
    resources = JobResources(JobConfig(timeout_sec=limits.execution_timeout), use_cache=cache, concurrency=width)
    results: list[dict[str, Any] | None] = [done.get(row.number - 1) for row in plan.rows]
    finished_events = [asyncio.Event() for _ in plan.rows]
    for i, row in enumerate(results):
        if row is not None:
            finished_events[i].set()

    async def execute(row: BatchRow) -> dict[str, Any]:
        base = {"row": row.number, "prompt": row.prompt, "model": row.model, "result": None, "status": "failed",
                "error": None, "duration_sec": 0.0, "prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0,
                "cost": 0.0, **row.extra}
        for n in row.depends_on:
            await finished_events[n - 1].wait()
            dep = results[n - 1]
            if dep is None or dep["status"] != "completed":
                return {**base, "error": f"depends on row {n}, which did not complete"}
        prompt = OUTPUT_REF.sub(lambda m: str(results[int(m.group(1)) - 1]["result"] or ""), row.prompt)  # type: ignore[index]
        base["prompt"] = prompt
        messages = ([{"role": "system", "content": row.system}] if row.system else []) + [{"role": "user", "content": prompt}]
        llm_client = resources.client(plan.configs[row.number])
        started = time.perf_counter()
        try:
            outcome = await asyncio.wait_for(llm_client.chat(ChatRequest(messages=tuple(messages))), limits.execution_timeout)
        except asyncio.TimeoutError:
            return {**base, "status": "timeout", "duration_sec": round(time.perf_counter() - started, 3),
                    "error": f"no answer within EXECUTION_TIMEOUT={limits.execution_timeout:g} s"}
        except PermutateError as exc:
            return {**base, "error": str(exc), "duration_sec": round(time.perf_counter() - started, 3)}
        result = outcome.result
        return {**base, "result": result.content or "", "status": "completed", "duration_sec": round(outcome.elapsed, 3),
                "prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens,
                "total_tokens": result.prompt_tokens + result.completion_tokens,
                "cost": resources.prices.cost(llm_client.provider.model, result.prompt_tokens, result.completion_tokens)}

    async def work(row: BatchRow) -> None:
        reporter.run_started(row.number - 1)
        try:
            outcome = await execute(row)
        except Exception as exc:  # noqa: BLE001 - a bug in one row must not lose the batch
            outcome = {"row": row.number, "prompt": row.prompt, "model": row.model, "result": None, "status": "failed",
                       "error": f"{type(exc).__name__}: {exc}", "duration_sec": 0.0, **row.extra}
        results[row.number - 1] = outcome
        finished_events[row.number - 1].set()
        await writer.save(row.number - 1, outcome, RunOutcome.of(outcome["model"], outcome["status"] == "completed"))

    models = sorted({r.model for r in plan.rows})
    reporter.job_started(JobStarted(plan.name, len(plan.rows), tuple(models), 0))
    for i, row in enumerate(results):
        if row is not None:
            reporter.run_finished(i, RunOutcome.of(row["model"], row["status"] == "completed"))
    async with stored_job(job_store, job_id, writer, resources):
        finished = await run_pool([r for r in plan.rows if results[r.number - 1] is None], work, width)
    rows = [r for r in results if r is not None]
    if job_store is not None and job_id is not None:
        ok = sum(r["status"] == "completed" for r in rows)
        status = "CANCELLED" if not finished else ("SUCCESS" if ok == len(rows) else ("ERROR" if ok == 0 else "PARTIAL_SUCCESS"))
        job_store.finish(job_id, status, {"completed": ok, "rows": len(rows), "finished_at": utc_now()},
                         error_code="ALL_ROWS_FAILED" if status == "ERROR" else None,
                         error_message=rows[0]["error"] if status == "ERROR" and rows else None)
    frame = batch_frame(rows)
    frame.attrs["job_id"] = job_id
    frame.attrs["status"] = "completed" if finished else "cancelled"
    reporter.job_finished(SimpleNamespace(details=rows, status=frame.attrs["status"]))  # type: ignore[arg-type]
    return frame


def run_batch(source: Any, *, models: Mapping[str, Any] | str | None = None, concurrency: int | None = None,
              cache: bool = True, name: str = "batch", reporter: Reporter | None = None) -> Any:
    """Run a batch and wait for it: CSV text or file, a DataFrame, or a list of dicts -> result DataFrame."""
    from .engine import blocking

    plan = plan_batch(source, models=models, name=name)
    return blocking(batch_async(plan, reporter=reporter, concurrency=concurrency, cache=cache))


def submit_batch(source: Any, *, models: Mapping[str, Any] | str | None = None, concurrency: int | None = None,
                 cache: bool = True, name: str = "batch") -> str:
    """Check a batch now, run it in the background, and return its job id at once.

    Follow it with ``status(id)`` and read it with ``results(id)``; rows are stored as they
    finish, so a batch cut short by the process ending can be finished with ``resume(id)``.
    """
    plan = plan_batch(source, models=models, name=name)
    store = JobStore()
    job_id = store.create_job("batch", plan.name, plan.request(), len(plan.rows))

    def target() -> None:
        worker_store = JobStore(store.path)
        try:
            asyncio.run(batch_async(plan, concurrency=concurrency, cache=cache, store=worker_store, job_id=job_id))
        except BaseException as exc:  # noqa: BLE001 - recorded for status(); the thread has no caller
            worker_store.finish(job_id, "ERROR", error_code=type(exc).__name__, error_message=str(exc))

    threading.Thread(target=target, name=f"permutate-batch-{job_id}", daemon=True).start()
    return job_id


def process_csv(source: Any, output: Any, *, models: Mapping[str, Any] | str | None = None) -> Any:
    """Check a batch and write it as XLSX/CSV with empty result columns; runs nothing."""
    from ..export import write_frame

    plan = plan_batch(source, models=models)
    rows = [{"row": r.number, "prompt": r.prompt, "model": r.model, "result": None, "status": None, "error": None,
             "duration_sec": None, "prompt_tokens": None, "completion_tokens": None, "total_tokens": None, "cost": None,
             **r.extra} for r in plan.rows]
    return write_frame(batch_frame(rows), output)
