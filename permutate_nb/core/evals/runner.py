"""Running an eval: each case x each model generates an answer, then every chosen metric scores it.

One unit of work is a case x model (its generation and its judgements), run by the shared
worker pool, stored as it finishes (resume re-runs only missing units), with trace spans
for each step. The job ends SUCCESS, PARTIAL_SUCCESS (some generations or judgements
failed) or ERROR (nothing could be generated, or the job itself failed).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any, Mapping

from ...errors import PermutateError, RequestError
from ..batch_input import load_models, model_config
from ..events import JobStarted, Reporter, RunOutcome
from ..executor import run_pool, stored_job
from ..factory import JobResources, check_llm
from ..llm.base import ChatRequest
from ..request import JobConfig, LLMConfig
from ..store import JobStore, ReportNow, utc_now
from .dataset import Dataset, EvalCase, load_dataset
from .judge import Verdict, judge
from .metrics import Metric, resolve_metrics
from .results import EvalResult, unit_status

__all__ = ["EvalPlan", "plan_eval", "evaluate", "evaluate_async", "resume_eval_async", "DEFAULT_TEMPLATE"]

DEFAULT_TEMPLATE = (
    "Context information is below.\n---------------------\n{context_str}\n---------------------\n"
    "Given the context information and not prior knowledge, answer the query.\nQuery: {query_str}\nAnswer:"
)


@dataclass
class EvalPlan:
    dataset: Dataset
    models: list[str]
    configs: dict[str, LLMConfig]
    judge_model: str | None
    judge_config: LLMConfig | None
    metrics: list[Metric]
    template: str
    model_settings: dict[str, dict[str, Any]]

    def request(self) -> dict[str, Any]:
        return {"dataset": self.dataset.to_dict(), "models": self.models, "judge_model": self.judge_model,
                "metrics": [m.name for m in self.metrics], "template": self.template, "model_settings": self.model_settings}

    @property
    def units(self) -> list[tuple[int, int]]:
        """(case, model) pairs in order: case by case, each model in turn."""
        return [(c, m) for c in range(len(self.dataset.cases)) for m in range(len(self.models))]


def plan_eval(dataset: Any, *, models: list[str] | str, judge_model: str | None = None,
              metrics: list[str] | str | None = None, template: str | None = None,
              model_settings: Mapping[str, Any] | str | None = None, name: str | None = None) -> EvalPlan:
    """Check everything an eval needs before any model is called."""
    data = load_dataset(dataset, name=name)
    names = [models] if isinstance(models, str) else list(models)
    if not names:
        raise RequestError("choose at least one model (--model NAME)")
    settings = load_models(model_settings)
    template = template or DEFAULT_TEMPLATE
    if "{query_str}" not in template:
        raise RequestError("template: it must contain {query_str} (and usually {context_str})")
    try:
        template.format(context_str="", query_str="")
    except (KeyError, IndexError, ValueError) as exc:
        raise RequestError(f"template: only {{context_str}} and {{query_str}} can be filled ({exc})") from None
    chosen = resolve_metrics(metrics)
    configs = {n: model_config(n, settings) for n in names}
    judge_name = judge_model or (names[0] if any(m.judged for m in chosen) else None)
    judge_config = model_config(judge_name, settings) if judge_name else None
    for label, llm in [*configs.items(), *([(f"judge {judge_name}", judge_config)] if judge_config else [])]:
        check_llm(llm, f"model {label}")
    return EvalPlan(data, names, configs, judge_name, judge_config, chosen, template, settings)


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


async def _unit(plan: EvalPlan, resources: JobResources, case: EvalCase, model: str, dataset_version: str) -> dict[str, Any]:
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

    scores = await asyncio.gather(*(score(m) for m in plan.metrics))
    chunks = [dict(c) for c in case.context]
    return {
        "test_case_id": case.id,
        "model": model,
        "output": {"generation_output": generation,
                   **({"generation_extra_info": {"chunks": chunks, "schema_type": "CHUNKS"}} if chunks else {})},
        "generation_error": error,
        "generation_usage": usage,
        "metric_scores": list(scores),
        "trace_spans": spans,
        "test_case_version": {
            "evaluation_dataset_id": plan.dataset.name, "dataset_version": dataset_version, "id": case.id,
            "test_case_data": {"input": case.input, "expected_output": case.expected_output,
                               **({"expected_extra_info": {"chunks": chunks, "schema_type": "CHUNKS"}} if chunks else {})},
            "test_case_metadata": case.metadata, "schema_type": "GENERATION",
        },
        "schema_type": "GENERATION",
    }


def _outcome(output: dict[str, Any]) -> RunOutcome:
    ok = output["generation_error"] is None and not any(s["failed"] for s in output["metric_scores"])
    return RunOutcome.of(output["model"], ok)


async def evaluate_async(plan: EvalPlan, *, reporter: Reporter | None = None, concurrency: int = 8, cache: bool = True,
                         store: JobStore | bool = True, job_id: str | None = None) -> EvalResult:
    job_store = JobStore() if store is True else (store or None)
    if job_store is not None and job_id is None:
        job_id = job_store.create_job("eval", plan.dataset.name, plan.request(), len(plan.units))
    return await _execute(plan, job_id or uuid.uuid4().hex[:12], job_store, {}, reporter, concurrency, cache)


async def resume_eval_async(job_id: str, *, reporter: Reporter | None = None, concurrency: int = 8, cache: bool = True,
                            store: JobStore | None = None) -> EvalResult:
    job_store = store or JobStore()
    request = job_store.job(job_id)["request"]
    plan = plan_eval(request["dataset"], models=request["models"], judge_model=request["judge_model"],
                     metrics=request["metrics"], template=request["template"], model_settings=request["model_settings"])
    return await _execute(plan, job_id, job_store, job_store.runs(job_id), reporter, concurrency, cache)


async def _execute(plan: EvalPlan, job_id: str, job_store: JobStore | None, done: dict[int, dict[str, Any]],
                   reporter: Reporter | None, concurrency: int, cache: bool) -> EvalResult:
    reporter = reporter or Reporter()
    units = plan.units
    outputs: list[dict[str, Any] | None] = [done.get(i) for i in range(len(units))]
    if job_store is not None:
        job_store.acquire_lease(job_id)  # refuses a job another live process runs
        job_store.start(job_id)
    # a unit is reported done once it is committed
    writer = job_store.run_writer(job_id, reporter.run_finished) if job_store is not None else ReportNow(reporter.run_finished)
    resources = JobResources(JobConfig(), use_cache=cache, concurrency=concurrency)
    version = plan.dataset.version
    started = utc_now()
    reporter.job_started(JobStarted(plan.dataset.name, len(units), tuple(plan.models), len(plan.dataset.cases)))

    async def work(index: int) -> None:
        case_index, model_index = units[index]
        reporter.run_started(index)
        try:
            output = await _unit(plan, resources, plan.dataset.cases[case_index], plan.models[model_index], version)
        except Exception as exc:  # noqa: BLE001 - a bug in one unit must not lose the job
            output = {"test_case_id": plan.dataset.cases[case_index].id, "model": plan.models[model_index],
                      "output": {"generation_output": None}, "generation_error": f"{type(exc).__name__}: {exc}",
                      "metric_scores": [], "trace_spans": [], "schema_type": "GENERATION"}
        outputs[index] = output
        await writer.save(index, output, _outcome(output))  # committed, then reported

    async with stored_job(job_store, job_id, writer, resources):
        finished = await run_pool([i for i in range(len(units)) if outputs[i] is None], work, concurrency)
    rows = [o for o in outputs if o is not None]
    status, code, message = unit_status(rows, finished)
    record = None
    if job_store is not None:
        job_store.finish(job_id, status, {"outputs": len(rows)}, error_code=code, error_message=message)
        record = job_store.job(job_id)
    result = EvalResult.build(job_id, plan, rows, status, record, started, code, message)
    reporter.job_finished(result)  # type: ignore[arg-type]
    return result


def evaluate(dataset: Any, *, models: list[str] | str, judge_model: str | None = None,
             metrics: list[str] | str | None = None, template: str | None = None,
             model_settings: Mapping[str, Any] | str | None = None, concurrency: int = 8, cache: bool = True,
             reporter: Reporter | None = None, name: str | None = None) -> EvalResult:
    """Evaluate a dataset on one or more models and wait for the result."""
    from ..engine import blocking

    plan = plan_eval(dataset, models=models, judge_model=judge_model, metrics=metrics, template=template,
                     model_settings=model_settings, name=name)
    return blocking(evaluate_async(plan, reporter=reporter, concurrency=concurrency, cache=cache))
