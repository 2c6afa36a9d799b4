"""Running an eval: each case x each model generates an answer, then every chosen metric scores it.

One unit of work is a case x model (its generation and its judgements): an ``EvalJob`` on
the runner, stored as it finishes (resume re-runs only missing units), with one deadline
per unit (the default ``timeout_sec``, generation and judgements together) and trace spans
for each step. The job ends SUCCESS, PARTIAL_SUCCESS (some generations or judgements
failed) or ERROR (nothing could be generated, or the job itself failed).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from ....errors import PermutateError
from ...llm.base import ChatRequest
from ...request.models import JobConfig
from ...status import Ending
from ...store.job_store import utc_now
from ...store.stored_rows import StoredRows
from ..events import JobStarted, Reporter, RunSeen
from ..factory import JobResources
from ..runner import Board, Finished, Job
from .dataset import EvalCase
from .judge import Verdict, judge
from .metrics import Metric
from .output_shape import interaction, new_id, test_case_output
from .plan import DEFAULT_TEMPLATE, EvalPlan, plan_eval
from .results import EvalResult, unit_status

__all__ = ["EvalPlan", "EvalJob", "plan_eval", "DEFAULT_TEMPLATE"]

def _span(kind: str, started: float, start_ts: str, ok: bool, payload_in: Any, payload_out: Any,
          metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    span = {
        "id": uuid.uuid4().hex[:16], "operation_type": kind, "operation_status": "SUCCESS" if ok else "ERROR",
        "start_timestamp": start_ts, "end_timestamp": utc_now(),
        "duration_ms": int((time.perf_counter() - started) * 1000),
        "input": payload_in, "output": payload_out, "operation_metadata": metadata or {},
    }
    span["operation_input"], span["operation_output"] = payload_in, payload_out  # the reference document's names
    return span


def _score(metric: Metric, verdict: Verdict) -> dict[str, Any]:
    return {"metric_type": metric.name, "category": metric.category, "score": verdict.score,
            "failed": verdict.failed,
            "llm_metadata": {"reasoning": verdict.reasoning, "time_elapsed_s": verdict.time_elapsed_s,
                             "usage": verdict.usage}}


class Steps:
    """Counts an eval's two steps as units pass them, for the reporter: ``answering 3/10``, ``judging 1/10``."""

    def __init__(self, reporter: Reporter, total: int, judged: bool) -> None:
        self.reporter, self.total, self.judged = reporter, total, judged
        self.answered = self.scored = 0

    def answer(self) -> None:
        self.answered += 1
        self.reporter.step("answering", self.answered, self.total)

    def judge(self) -> None:
        self.scored += 1
        if self.judged:
            self.reporter.step("judging", self.scored, self.total)


async def _unit(plan: EvalPlan, resources: JobResources, case: EvalCase, model: str, dataset_version: str,
                steps: Steps | None = None) -> dict[str, Any]:
    spans: list[dict[str, Any]] = []
    prompt = plan.template.format(context_str=case.context_str, query_str=case.input)
    client = resources.client(plan.configs[model])
    t0, ts = time.perf_counter(), utc_now()
    generation: str | None = None
    usage: dict[str, Any] = {}
    try:
        outcome = await client.chat(ChatRequest(messages=({"role": "user", "content": prompt},)))
        generation = outcome.result.content or ""
        r = outcome.result
        usage = {"prompt_tokens": r.prompt_tokens, "completion_tokens": r.completion_tokens, "model": r.model or model,
                 "cost": resources.prices.cost(client.provider.model, r.prompt_tokens, r.completion_tokens)}
        spans.append(_span("COMPLETION", t0, ts, True, {"prompt": prompt}, {"generation_output": generation},
                           {"usage": usage, "cached": outcome.cached}))
        error = None
    except PermutateError as exc:
        error = str(exc)
        spans.append(_span("COMPLETION", t0, ts, False, {"prompt": prompt}, {"error": error}))

    async def score(metric: Metric) -> dict[str, Any]:
        t1, ts1 = time.perf_counter(), utc_now()
        if generation is None:
            verdict = Verdict(None, f"no generation to score: {error}", True)
        elif metric.needs_reference and not case.expected_output:
            verdict = Verdict(None, "not applicable: the case has no expected_output")
        elif metric.needs_context and not case.context:
            verdict = Verdict(None, "not applicable: the case has no context")
        elif metric.compute is not None:
            verdict = Verdict(round(metric.compute(generation, case.expected_output or ""), 6), "computed")
        else:
            assert plan.judge_config is not None
            verdict = await judge(resources.client(plan.judge_config), plan.judge_config.provider, metric, case,
                                  generation, resources.prices)
        spans.append(_span("EVALUATION", t1, ts1, not verdict.failed, {"metric": metric.name},
                           {"score": verdict.score, "reasoning": verdict.reasoning}))
        return _score(metric, verdict)

    if steps is not None:
        steps.answer()
    scores = await asyncio.gather(*(score(m) for m in plan.metrics))
    if steps is not None:
        steps.judge()
    chunks = [dict(c) for c in case.context]
    dataset_id = plan.dataset_id or dataset_version
    unit = interaction(new_id(), query=case.input, prompt=prompt, generation=generation, error=error, started=ts,
                       duration_ms=int((time.perf_counter() - t0) * 1000), usage=usage, spans=spans)
    return test_case_output(
        dataset_id=dataset_id, test_case_id=case.id, created_at=utc_now(),
        output={"generation_output": generation,
                **({"generation_extra_info": {"chunks": chunks, "schema_type": "CHUNKS"}} if chunks else {})},
        interaction_doc=unit,
        test_case_version={
            "evaluation_dataset_id": dataset_id, "dataset_name": plan.dataset.name, "dataset_version": dataset_version,
            "id": case.id,
            "test_case_data": {"input": case.input, "artifact_ids_filter": None, "expected_output": case.expected_output,
                               **({"expected_extra_info": {"chunks": chunks, "schema_type": "CHUNKS"}} if chunks else {})},
            "autogenerated": False, "created_at": None, "updated_at": None, "account_id": None,
            "created_by_user_id": None, "created_by_identity_type": None, "schema_type": "GENERATION",
            "chat_history": None, "test_case_metadata": case.metadata, "invalidated_at": None, "archived_at": None,
        },
        metric_scores=list(scores),
        extra={"model": model, "generation_error": error, "generation_usage": usage},
    )


Output = dict[str, Any]


class EvalJob(Job[Output]):
    """One unit per case x model: a generation, then every chosen metric on it."""

    kind = "eval"
    deadline = JobConfig().timeout_sec

    def __init__(self, plan: EvalPlan) -> None:
        self.plan = plan
        self.name = plan.dataset.name
        self._units = plan.units
        self._steps: Steps | None = None  # set in prepare: the reporter hears answering / judging
        self._started = utc_now()

    @classmethod
    def from_request(cls, request: dict[str, Any]) -> EvalJob:
        """The eval planned again from its stored request (resume), checked as a new one is."""
        return cls(plan_eval(request["dataset"], models=request["models"], judge_model=request["judge_model"],
                             metrics=request["metrics"], template=request["template"],
                             model_settings=request["model_settings"], dataset_id=request.get("dataset_id")))

    @classmethod
    def stored_result(cls, job: dict[str, Any], rows: StoredRows[Output]) -> EvalResult:
        """The eval's result document from its stored record and outputs."""
        return EvalResult.from_store(job, list(rows))

    @property
    def size(self) -> int:
        """One unit per case x model."""
        return len(self._units)

    def request(self) -> dict[str, Any]:
        """The plan's stored form: the dataset, models, judge, metrics and template."""
        return self.plan.request()

    def resources(self, cache: bool | None, width: int, context: Any) -> JobResources:
        """Default job settings; the cache is on unless ``cache=False``."""
        return JobResources(JobConfig(), use_cache=cache is not False, concurrency=width, context=context)

    async def prepare(self, resources: JobResources, width: int, reporter: Reporter) -> JobStarted:
        """Count the ``answering`` and ``judging`` steps for the reporter; the start event names the
        dataset and its models."""
        self._started = utc_now()
        self._steps = Steps(reporter, self.size, any(m.compute is None for m in self.plan.metrics))
        return JobStarted(self.plan.dataset.name, self.size, tuple(self.plan.models), len(self.plan.dataset.cases))

    async def run(self, index: int, resources: JobResources) -> Output:
        """The model answers the case, then every chosen metric scores the answer: the case x model output."""
        case_index, model_index = self._units[index]
        return await _unit(self.plan, resources, self.plan.dataset.cases[case_index], self.plan.models[model_index],
                           self.plan.dataset.version, self._steps)

    def failed(self, index: int, error: str, elapsed: float, attempts: int, timed_out: bool) -> Output:
        """An output without a generation or scores, the error as its ``generation_error``."""
        case_index, model_index = self._units[index]
        return test_case_output(
            dataset_id=self.plan.dataset_id or self.plan.dataset.version, test_case_id=self.plan.dataset.cases[case_index].id,
            created_at=utc_now(), output={"generation_output": None}, interaction_doc=None, test_case_version=None,
            metric_scores=[], extra={"model": self.plan.models[model_index], "generation_error": error,
                                     "generation_usage": {}})

    def dump(self, row: Output) -> dict[str, Any]:
        """An output is a plain dict: stored as it is."""
        return row

    def restore(self, index: int, data: dict[str, Any]) -> Output:
        """The stored dict is the output."""
        return data

    def seen(self, row: Output) -> RunSeen:
        """Reporters count the output toward its model's bar; it passed if it generated and no score failed."""
        ok = row["generation_error"] is None and not any(s["failed"] for s in row["metric_scores"])
        return RunSeen.of(row["model"], ok)

    def status(self, kept: Board[Output], finished: bool) -> Ending:
        """SUCCESS, PARTIAL_SUCCESS, ERROR or CANCELLED from the outputs (``results.unit_status``)."""
        return unit_status(kept.finished(), finished)

    def store_data(self, kept: Board[Output], elapsed: float) -> dict[str, Any]:
        """The record's summary: how many outputs there are."""
        return {"outputs": len(kept.finished())}

    def result(self, finished: Finished[Output]) -> EvalResult:
        """The eval's result document from the finished outputs and the job's record."""
        return EvalResult.build(finished.job_id, self.plan, finished.kept.finished(), finished.status, finished.record,
                                self._started, finished.error_code, finished.error_message)
