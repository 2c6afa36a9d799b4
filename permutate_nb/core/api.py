"""The public API: ``run``, ``batch``, ``evaluate``, ``resume`` and ``generate``, each with an
``_async`` twin of the same signature, and ``submit(kind, ...) -> JobHandle`` for all of them.

``source`` may also be a plan (``plan_job``, ``plan_batch``, ``plan_eval``, ``plan_generate``), as the
notebook faces pass one after drawing their progress bars from it. Every call plans its job first (a bad request fails here, before anything runs or is stored),
then launches it on the one runner (``jobs.launch``). The sync functions are ``submit(...).wait()``:
the job runs in a worker thread with its own event loop, so a notebook's loop keeps running and
Ctrl-C (or a kernel interrupt) cancels the job and returns the finished runs, marked CANCELLED.

Defaults are the same everywhere: ``concurrency=None`` and ``cache=None`` mean the job's own
(the request's ``config``, a batch's ``DEFAULT_MAX_THREADS``), ``store=True`` the job store of
the context (``False``: nowhere), ``executor=None`` the job's own ``config.executor``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Union

from ..errors import one_line_warnings
from . import hooks
from .context import Context, open_store
from .defaults import default
from .jobs.handle import JobHandle
from .jobs.kinds import job_class, job_for
from .jobs.launch import launch
from .jobs.runner import create_record

if TYPE_CHECKING:  # each kind's module is imported when a job of that kind is planned
    from .jobs.batch_result import BatchResult
    from .jobs.bfcl import BfclResult
    from .jobs.evals.results import EvalResult
    from .jobs.events import Reporter
    from .jobs.generate import GenerateResult
    from .jobs.permutate_result import JobResult
    from .jobs.result_base import Result
    from .jobs.runner import Job
    from .request.models import LLMConfig
    from .store.job_store import JobStore

__all__ = ["run", "run_async", "batch", "batch_async", "evaluate", "evaluate_async", "resume", "resume_async",
           "generate", "generate_async", "bfcl", "bfcl_async", "generate_test_cases", "submit", "run_planned", "job_for", "Kind"]

log = logging.getLogger("permutate_nb")
Kind = Literal["run", "batch", "evaluate", "resume", "generate", "bfcl"]
Store = Union["JobStore", bool]


class _Planned:
    """A job planned and ready to launch: the job, and the stored rows a resume starts from."""

    def __init__(self, job: Job[Any], store: JobStore | None, job_id: str | None = None,
                 done: Any = (), stored_options: dict[str, Any] | None = None) -> None:
        self.job, self.store, self.job_id, self.done = job, store, job_id, done
        self.stored_options = stored_options or {}  # a resumed job's first run options (``--no-cache``...)

    def create(self) -> str:
        """The job's id, creating its record in the store first (so a handle has it at once)."""
        if self.job_id is None:
            self.job_id = create_record(self.job, self.store)
        return self.job_id

    def options(self, given: dict[str, Any]) -> dict[str, Any]:
        """The options given, and for those left at None the ones the job was first run with."""
        return {**given, **{key: value for key, value in self.stored_options.items() if given.get(key) is None}}

    async def launch(self, options: dict[str, Any]) -> Result:
        return await launch(self.job, store=self.store, job_id=self.job_id, done=self.done, **self.options(options))


def _plan(kind: Kind, source: Any, store: Store | None, context: Context | None, *, reporter: Reporter | None = None,
          **planning: Any) -> _Planned:
    """Plan a job of ``kind`` (synchronous: manifests, datasets and CSVs are read here)."""
    if kind == "resume":
        from .store.stored_rows import StoredRows

        job_store = open_store(True if store in (None, True) else store, context)
        assert job_store is not None
        record = job_store.job(str(source))
        job = job_class(record["kind"]).from_request(record["request"])
        log.info("resuming %s job %s: %d of %d runs stored", record["kind"], source, record.get("finished_runs") or 0,
                 record.get("planned_runs") or 0)
        return _Planned(job, job_store, str(source), StoredRows(job_store.path, str(source)).items(),
                        record.get("options"))
    job_store = open_store(True if store is None else store, context)
    if kind == "bfcl":
        from .jobs.bfcl import bfcl_plan

        models = planning.pop("models")
        return _Planned(job_for(bfcl_plan(source, models, context=context, **planning), "bfcl"), job_store)
    if kind not in ("run", "batch", "evaluate", "generate"):
        raise ValueError(f"kind {kind!r}: use run, batch, evaluate, resume, generate or bfcl")
    planned = _plan_new(kind, source, context, planning, reporter)
    return _Planned(job_for(planned), job_store)


def _plan_new(kind: Kind, source: Any, context: Context | None, planning: dict[str, Any],
              reporter: Reporter | None = None) -> Any:
    """The plan of a new job (a plan given as ``source`` is taken as it is)."""
    if kind == "run":
        from .jobs.permutate import JobPlan, plan_job

        return source if isinstance(source, JobPlan) else plan_job(source, provider=planning.get("provider"),
                                                                     context=context, reporter=reporter)
    if kind == "batch":
        from .jobs.batch import BatchPlan, plan_batch

        return source if isinstance(source, BatchPlan) else plan_batch(
            source, models=planning.get("models"), name=planning.get("name") or "batch")
    if kind == "evaluate":
        from .jobs.evals.plan import EvalPlan, plan_eval

        return source if isinstance(source, EvalPlan) else plan_eval(source, **planning)
    from .jobs.generate import GeneratePlan, plan_generate

    return source if isinstance(source, GeneratePlan) else plan_generate(source, **planning)


async def run_planned(plan: Any, *, store: Store = True, job_id: str | None = None, reporter: Reporter | None = None,
                      concurrency: int | None = None, cache: bool | None = None, context: Context | None = None,
                      executor: Any = None) -> Result:
    """Run a planned job whose record a face created first (``job_id``: the server answers with the id at once)."""
    return await launch(job_for(plan), store=open_store(store, context), job_id=job_id,
                        **_options(reporter, concurrency, cache, context, executor))


def _options(reporter: Reporter | None, concurrency: int | None, cache: bool | None, context: Context | None,
             executor: Any) -> dict[str, Any]:
    return {"reporter": reporter, "concurrency": concurrency, "cache": cache, "context": context, "executor": executor}


def submit(kind: Kind, source: Any, *, reporter: Reporter | None = None, concurrency: int | None = None,
           cache: bool | None = None, store: Store | None = None, context: Context | None = None,
           executor: Any = None, **planning: Any) -> JobHandle[Any]:
    """Plan a job now and run it in the background; the handle has its ``job_id`` at once.

    ``kind``: run (``source``: a request), batch (CSV, DataFrame, rows), evaluate (a dataset),
    resume (a job id), generate (a manifest) or bfcl (BFCL categories); ``planning`` takes that kind's own keywords
    (``provider``; ``models``, ``name``; ``models``, ``judge_model``, ``metrics``, ...).

        >>> handle = pn.submit("run", "request.yaml", provider="local")
        >>> handle.job_id, handle.status()
        >>> result = handle.wait()
    """
    concurrency, cache = _defaulted(kind, concurrency, cache)
    with one_line_warnings():  # planning's notes (a snapshot used, a field ignored) as the job's own lines
        planned = _plan(kind, source, store, context, reporter=reporter, **_with_provider(kind, planning))
    return _start(kind, planned, _options(reporter, concurrency, cache, context, executor))


def _defaulted(kind: Kind, concurrency: int | None, cache: bool | None) -> tuple[int | None, bool | None]:
    """Options left at None take the notebook's defaults (``pn.defaults``); a resume takes its job's own first."""
    if kind == "resume":
        return concurrency, cache
    return default("concurrency", concurrency), default("cache", cache)


def _with_provider(kind: Kind, planning: dict[str, Any]) -> dict[str, Any]:
    """The planning keywords with the notebook's default provider (``pn.defaults``) for run and bfcl."""
    if kind in ("run", "bfcl"):
        return {**planning, "provider": default("provider", planning.get("provider"))}
    return planning


def _start(kind: Kind, planned: _Planned, options: dict[str, Any]) -> JobHandle[Any]:
    job_id = planned.create()
    return JobHandle.start(planned.launch(options), job_id=job_id, store=planned.store, name=f"permutate-{kind}-{job_id}")


def _wait(kind: Kind, source: Any, *, reporter: Reporter | None, concurrency: int | None, cache: bool | None,
          store: Store | None, context: Context | None, executor: Any, **planning: Any) -> Any:
    """``submit(...).wait()``; with no reporter given, the face's live progress (``hooks.with_progress``:
    in a notebook, the same bars as ``%%permutate``)."""
    if reporter is not None:
        return submit(kind, source, reporter=reporter, concurrency=concurrency, cache=cache, store=store,
                      context=context, executor=executor, **planning).wait()
    concurrency, cache = _defaulted(kind, concurrency, cache)
    with one_line_warnings():
        planned = _plan(kind, source, store, context, **_with_provider(kind, planning))
    return hooks.with_progress(planned.job, lambda shown: _start(
        kind, planned, _options(shown, concurrency, cache, context, executor)).wait())


async def _run_planned(kind: Kind, source: Any, store: Store | None, context: Context | None,
                       options: dict[str, Any], **planning: Any) -> Any:
    concurrency, cache = _defaulted(kind, options.get("concurrency"), options.get("cache"))
    options = {**options, "concurrency": concurrency, "cache": cache}
    planned = await asyncio.to_thread(_plan, kind, source, store, context, reporter=options.get("reporter"),
                                      **_with_provider(kind, planning))
    return await planned.launch(options)


def run(source: Any, *, provider: str | None = None, concurrency: int | None = None, cache: bool | None = None,
        reporter: Reporter | None = None, store: Store = True, context: Context | None = None,
        executor: Any = None) -> JobResult:
    """Run a permutate job and wait for it. ``source``: a path, YAML/JSON text, a dict or a ``JobRequest``.

    ``provider="local"`` puts the embedded model behind every permutation; ``executor="ray"`` runs on Ray.
    """
    return _wait("run", source, provider=provider, concurrency=concurrency, cache=cache, reporter=reporter,
                 store=store, context=context, executor=executor)


async def run_async(source: Any, *, provider: str | None = None, concurrency: int | None = None,
                    cache: bool | None = None, reporter: Reporter | None = None, store: Store = True,
                    context: Context | None = None, executor: Any = None) -> JobResult:
    """``run`` on the caller's event loop."""
    return await _run_planned("run", source, store, context, _options(reporter, concurrency, cache, context, executor),
                              provider=provider)


def batch(source: Any, *, models: Mapping[str, Any] | str | None = None, name: str = "batch",
          concurrency: int | None = None, cache: bool | None = None, reporter: Reporter | None = None,
          store: Store = True, context: Context | None = None, executor: Any = None) -> BatchResult:
    """Run prompts x models (CSV text or file, a DataFrame, or a list of dicts) and wait for the result."""
    return _wait("batch", source, models=models, name=name, concurrency=concurrency, cache=cache, reporter=reporter,
                 store=store, context=context, executor=executor)


async def batch_async(source: Any, *, models: Mapping[str, Any] | str | None = None, name: str = "batch",
                      concurrency: int | None = None, cache: bool | None = None, reporter: Reporter | None = None,
                      store: Store = True, context: Context | None = None, executor: Any = None) -> BatchResult:
    """``batch`` on the caller's event loop."""
    return await _run_planned("batch", source, store, context, _options(reporter, concurrency, cache, context, executor),
                              models=models, name=name)


def evaluate(dataset: Any, *, models: list[str] | str | None = None, judge_model: str | None = None,
             metrics: list[str] | str | None = None, template: str | None = None,
             model_settings: Mapping[str, Any] | str | None = None, name: str | None = None,
             concurrency: int | None = None, cache: bool | None = None, reporter: Reporter | None = None,
             store: Store = True, context: Context | None = None, executor: Any = None) -> EvalResult:
    """Evaluate a dataset on one or more models (judged and deterministic metrics) and wait for the result."""
    return _wait("evaluate", dataset, models=models, judge_model=judge_model, metrics=metrics, template=template,
                 model_settings=model_settings, name=name, concurrency=concurrency, cache=cache,
                 reporter=reporter, store=store, context=context, executor=executor)


async def evaluate_async(dataset: Any, *, models: list[str] | str | None = None, judge_model: str | None = None,
                         metrics: list[str] | str | None = None, template: str | None = None,
                         model_settings: Mapping[str, Any] | str | None = None, name: str | None = None,
                         concurrency: int | None = None, cache: bool | None = None, reporter: Reporter | None = None,
                         store: Store = True, context: Context | None = None, executor: Any = None) -> EvalResult:
    """``evaluate`` on the caller's event loop."""
    return await _run_planned("evaluate", dataset, store, context, _options(reporter, concurrency, cache, context, executor),
                              models=models, judge_model=judge_model, metrics=metrics, template=template,
                              model_settings=model_settings, name=name)


def resume(job_id: str, *, concurrency: int | None = None, cache: bool | None = None,
           reporter: Reporter | None = None, store: Store = True, context: Context | None = None,
           executor: Any = None) -> Result:
    """Finish a stored job of any kind: only the units without a stored row run."""
    return _wait("resume", job_id, concurrency=concurrency, cache=cache, reporter=reporter, store=store,
                 context=context, executor=executor)


async def resume_async(job_id: str, *, concurrency: int | None = None, cache: bool | None = None,
                       reporter: Reporter | None = None, store: Store = True, context: Context | None = None,
                       executor: Any = None) -> Result:
    """``resume`` on the caller's event loop."""
    return await _run_planned("resume", job_id, store, context, _options(reporter, concurrency, cache, context, executor))


def generate(manifest: str, *, per_operation: int = 5, llm: LLMConfig | dict[str, Any] | None = None,
             provider: str | None = None, model: str | None = None, base_url: str | None = None,
             api_key_env: str | None = None, output: str | Path | None = None, concurrency: int | None = None,
             cache: bool | None = None, reporter: Reporter | None = None, store: Store = True,
             context: Context | None = None, executor: Any = None) -> GenerateResult:
    """Write test cases for every operation of a plugin; ``output``: also write the ``test_cases:`` YAML there.

        >>> cases = pn.generate("Klarna_Shopping.json", per_operation=3, provider="local").cases
    """
    result: GenerateResult = submit(
        "generate", manifest, per_operation=per_operation, llm=llm, provider=provider, model=model, base_url=base_url,
        api_key_env=api_key_env, concurrency=concurrency, cache=cache, reporter=reporter, store=store,
        context=context, executor=executor).wait()
    _write_cases(result, output)
    return result


async def generate_async(manifest: str, *, per_operation: int = 5, llm: LLMConfig | dict[str, Any] | None = None,
                         provider: str | None = None, model: str | None = None, base_url: str | None = None,
                         api_key_env: str | None = None, output: str | Path | None = None,
                         concurrency: int | None = None, cache: bool | None = None, reporter: Reporter | None = None,
                         store: Store = True, context: Context | None = None, executor: Any = None) -> GenerateResult:
    """``generate`` on the caller's event loop."""
    result: GenerateResult = await _run_planned(
        "generate", manifest, store, context, _options(reporter, concurrency, cache, context, executor),
        per_operation=per_operation, llm=llm, provider=provider, model=model, base_url=base_url,
        api_key_env=api_key_env)
    _write_cases(result, output)
    return result


def bfcl(categories: str | list[str], models: str | list[str] | list[dict[str, Any]], *,
         provider: str | None = None, base_url: str | None = None, limit: int | None = None,
         config: dict[str, Any] | None = None, concurrency: int | None = None, cache: bool | None = None,
         reporter: Reporter | None = None, store: Store = True, context: Context | None = None,
         executor: Any = None) -> BfclResult:
    """BFCL's categories (from the installed ``bfcl-eval``) on one or more models, scored as BFCL scores them.

        >>> pn.bfcl("simple_python,parallel", ["gpt-4o-mini"], limit=30)
    """
    return _wait("bfcl", categories, models=models, provider=provider, base_url=base_url, limit=limit,
                 config=config, concurrency=concurrency, cache=cache, reporter=reporter, store=store,
                 context=context, executor=executor)


async def bfcl_async(categories: str | list[str], models: str | list[str] | list[dict[str, Any]], *,
                     provider: str | None = None, base_url: str | None = None, limit: int | None = None,
                     config: dict[str, Any] | None = None, concurrency: int | None = None, cache: bool | None = None,
                     reporter: Reporter | None = None, store: Store = True, context: Context | None = None,
                     executor: Any = None) -> BfclResult:
    """``bfcl`` on the caller's event loop."""
    return await _run_planned("bfcl", categories, store, context, _options(reporter, concurrency, cache, context, executor),
                              models=models, provider=provider, base_url=base_url, limit=limit, config=config)


def generate_test_cases(manifest: str, *, output: str | Path | None = None, **options: Any) -> list[dict[str, Any]]:
    """``generate(...).cases``: raises the first error if the model wrote none, warns of each skipped operation."""
    from .jobs.generate import test_cases_of

    return test_cases_of(generate(manifest, output=output, **options))


def _write_cases(result: GenerateResult, output: str | Path | None) -> None:
    if output is not None and result.cases:
        Path(output).write_text(result.to_yaml(), encoding="utf-8")
