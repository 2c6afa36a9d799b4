"""Batch executions: prompts x models, ``${output.n}`` chaining, limits, a stored job per batch.

A batch is one more job kind on the runner (``BatchJob``): the worker pool, ``LLMClient``
(cache, retries), one deadline per row (EXECUTION_TIMEOUT, retries included; a row past it
ends with status ``timeout``), the job store (each row saved as it finishes, resume) and
reporter events. Rows without dependencies run concurrently; a row that uses
``${output.n}`` waits for row n (not timed), and fails with that reason if row n failed.
Batches beyond MAX_CONCURRENT_BATCHES wait (PENDING) for a slot of the context's ``Slots``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from ..context import Context
from ..llm.base import ChatRequest
from ..request.batch_input import OUTPUT_REF, BatchLimits, BatchRow, check_rows, load_models, model_config, read_rows
from ..request.models import JobConfig, LLMConfig
from ..status import ERROR, Ending, from_counts
from ..store.job_store import utc_now
from ..store.stored_rows import StoredRows
from .batch_result import BatchResult, batch_frame
from .events import JobStarted, Reporter, RunSeen
from .factory import JobResources, check_llm
from .runner import Board, Finished, Job

__all__ = ["BatchPlan", "BatchJob", "plan_batch", "empty_rows"]

Row = dict[str, Any]


class BatchPlan:
    """Validated rows, their LLM configurations and the limits in force."""

    def __init__(self, rows: list[BatchRow], models: dict[str, dict[str, Any]], limits: BatchLimits, name: str) -> None:
        self.rows, self.models, self.limits, self.name = rows, models, limits, name
        self.configs: dict[int, LLMConfig] = {row.number: model_config(row.model, models, row) for row in rows}
        for number, llm in self.configs.items():  # a missing key, extra or model file stops the batch here
            check_llm(llm, f"row {number} ({rows[number - 1].model})")

    def request(self) -> dict[str, Any]:
        """What the job store keeps to plan the batch again on resume: its name, rows and model settings."""
        return {"name": self.name, "rows": [r.to_dict() for r in self.rows], "models": self.models}


def plan_batch(source: Any, *, models: Mapping[str, Any] | str | None = None, limits: BatchLimits | None = None,
               name: str = "batch") -> BatchPlan:
    """Read and check a batch; calls no model. Raises RequestError naming the row and the limit."""
    limits = limits or BatchLimits.from_env()
    rows = read_rows(source, limits)
    check_rows(rows, limits)
    return BatchPlan(rows, load_models(models), limits, name)


class BatchJob(Job[Row]):
    """One unit per row: the row's prompt (``${output.n}`` filled in) to its model."""

    kind = "batch"

    def __init__(self, plan: BatchPlan) -> None:
        self.plan = plan
        self.name = plan.name
        self.width = plan.limits.max_threads
        self.deadline = plan.limits.execution_timeout
        self._prompts: dict[int, str] = {}

    @classmethod
    def from_request(cls, request: dict[str, Any]) -> BatchJob:
        """The batch planned again from its stored rows and models (resume), checked as a new batch is."""
        return cls(plan_batch(request["rows"], models=request.get("models"), name=request.get("name", "batch")))

    @classmethod
    def stored_result(cls, job: dict[str, Any], rows: StoredRows[Row]) -> BatchResult:
        """The batch's result from its stored record and rows (``pn.results``), the rows as its DataFrame."""
        return BatchResult(job["id"], job["status"], batch_frame(list(rows)), job)

    @property
    def size(self) -> int:
        """One unit per row of the batch."""
        return len(self.plan.rows)

    def request(self) -> dict[str, Any]:
        """The plan's name, rows and model settings, as the store keeps them for a resume."""
        return self.plan.request()

    def resources(self, cache: bool | None, width: int, context: Any) -> JobResources:
        """Clients whose calls time out at EXECUTION_TIMEOUT; the cache is on unless ``cache=False``."""
        config = JobConfig(timeout_sec=self.plan.limits.execution_timeout)
        return JobResources(config, use_cache=cache is not False, concurrency=width, context=context)

    def admission(self, context: Context) -> contextlib.AbstractAsyncContextManager[Any]:
        """Wait for one of the context's MAX_CONCURRENT_BATCHES slots (the batch stays PENDING meanwhile)."""
        return context.slots(self.plan.limits.max_concurrent_batches).hold()

    async def prepare(self, resources: JobResources, width: int, reporter: Reporter) -> JobStarted:
        """Nothing to prepare: the start event names the batch, its rows and its models (one bar per model)."""
        return JobStarted(self.plan.name, len(self.plan.rows), tuple(sorted({r.model for r in self.plan.rows})), 0)

    def _base(self, index: int) -> Row:
        row = self.plan.rows[index]
        return {"row": row.number, "prompt": self._prompts.get(index, row.prompt), "model": row.model, "result": None,
                "status": "failed", "error": None, "duration_sec": 0.0, "prompt_tokens": 0, "completion_tokens": 0,
                "total_tokens": 0, "cost": 0.0, **row.extra}

    def needs(self, index: int) -> tuple[int, ...]:
        """The units of the rows this row's ``${output.n}`` references (rows are 1-based, units 0-based)."""
        return tuple(n - 1 for n in self.plan.rows[index].depends_on)

    async def ready(self, index: int, board: Board[Row]) -> Row | None:
        """Wait for the rows this one references and fill in their results; a dependency that did not complete,
        or a filled prompt over MAX_PROMPT_LENGTH, gives this row's failed row without a call."""
        row = self.plan.rows[index]
        for n in row.depends_on:
            dep = await board.wait(n - 1)
            if dep is None or dep["status"] != "completed":
                return {**self._base(index), "error": f"depends on row {n}, which did not complete"}
        if row.depends_on:
            prompt = OUTPUT_REF.sub(lambda m: str(board.rows[int(m.group(1)) - 1]["result"] or ""), row.prompt)  # type: ignore[index]
            self._prompts[index] = prompt
            limit = self.plan.limits.max_prompt_length
            if len(prompt) > limit:  # the limit holds for the prompt the model would get, not only as written
                return {**self._base(index), "error": f"the prompt has {len(prompt)} characters after ${{output.n}} "
                                                      f"substitution; MAX_PROMPT_LENGTH is {limit}"}
        return None

    async def run(self, index: int, resources: JobResources) -> Row:
        """Send the row's prompt (after its system message, if any) to its model: the answer, tokens and cost."""
        row = self.plan.rows[index]
        prompt = self._prompts.get(index, row.prompt)
        messages = ([{"role": "system", "content": row.system}] if row.system else []) + [{"role": "user", "content": prompt}]
        client = resources.client(self.plan.configs[row.number])
        outcome = await client.chat(ChatRequest(messages=tuple(messages)))
        result = outcome.result
        return {**self._base(index), "result": result.content or "", "status": "completed",
                "duration_sec": round(outcome.elapsed, 3), "prompt_tokens": result.prompt_tokens,
                "completion_tokens": result.completion_tokens,
                "total_tokens": result.prompt_tokens + result.completion_tokens,
                "cost": resources.prices.cost(client.provider.model, result.prompt_tokens, result.completion_tokens)}

    def failed(self, index: int, error: str, elapsed: float, attempts: int, timed_out: bool) -> Row:
        """The row with status ``timeout`` or ``failed``, the error and the time it took."""
        return {**self._base(index), "status": "timeout" if timed_out else "failed", "error": error,
                "duration_sec": round(elapsed, 3)}

    def timeout_message(self) -> str:
        """The timed-out row's error names EXECUTION_TIMEOUT, the limit a batch's user sets."""
        return f"no answer within EXECUTION_TIMEOUT={self.deadline:g} s"

    def dump(self, row: Row) -> dict[str, Any]:
        """A batch row is a plain dict: stored as it is."""
        return row

    def restore(self, index: int, data: dict[str, Any]) -> Row:
        """The stored dict is the row."""
        return data

    def seen(self, row: Row) -> RunSeen:
        """Reporters count the row toward its model's bar; it passed if it completed."""
        return RunSeen.of(row["model"], row["status"] == "completed")

    def status(self, kept: Board[Row], finished: bool) -> Ending:
        """From the rows' statuses; ERROR (ALL_ROWS_FAILED, with the first row's error) when no row completed."""
        rows = kept.finished()
        ok = sum(r["status"] == "completed" for r in rows)
        status = from_counts(len(rows) - ok, len(rows), finished)
        if status == ERROR:
            return Ending(status, "ALL_ROWS_FAILED", rows[0]["error"])
        return Ending(status)

    def store_data(self, kept: Board[Row], elapsed: float) -> dict[str, Any]:
        """The record's summary: rows completed, rows finished and when the batch finished."""
        rows = kept.finished()
        return {"completed": sum(r["status"] == "completed" for r in rows), "rows": len(rows), "finished_at": utc_now()}

    def result(self, finished: Finished[Row]) -> BatchResult:
        """The finished rows as the result DataFrame, with the job's id, status and record."""
        return BatchResult(finished.job_id, finished.status, batch_frame(finished.kept.finished()), finished.record)


def empty_rows(plan: BatchPlan) -> list[Row]:
    """The plan's rows with empty result columns (``process_csv``)."""
    return [{"row": r.number, "prompt": r.prompt, "model": r.model, "result": None, "status": None, "error": None,
             "duration_sec": None, "prompt_tokens": None, "completion_tokens": None, "total_tokens": None, "cost": None,
             **r.extra} for r in plan.rows]
