"""The matrix runner: plan a job, run every cell with bounded concurrency, score, collect.

``plan_job`` does the slow, synchronous part once (request, manifests, tool schemas);
``run_async`` then drives a fixed pool of worker coroutines over the run list, so the
per-run path is: cache look-up or one HTTP call, JSON parsing, scoring. A run that fails
after its retries is recorded as failed; Ctrl-C (cancellation) returns what finished.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..errors import PermutateError, PluginLoadError
from .events import JobStarted, Reporter
from .factory import JobResources, check_request, translator_llm
from .fetch import default_url_map
from .executor import run_pool, stored_job
from .matrix import RunSpec, expand_matrix, languages_of
from .plugins import Plugin, PluginLoader
from .provider_override import override_provider
from .request import JobRequest, load_request
from .results import JobResult, RunDetail
from .rows import failed_row, scored_row
from .selectors.base import ToolSelector
from .store import JobStore, ReportNow
from .tools import ToolSet, build_toolset
from .translate import build_prompts

__all__ = ["JobPlan", "plan_job", "run", "run_async", "resume", "resume_async", "store_status"]


@dataclass(slots=True)
class JobPlan:
    """A validated request with its plugins loaded and tool sets built."""

    request: JobRequest
    plugins: dict[str, Plugin]
    toolsets: dict[str, ToolSet]
    languages: list[str]
    warnings: list[str] = field(default_factory=list)

    @property
    def total_runs(self) -> int:
        r = self.request
        return len(r.permutations) * len(r.test_cases) * len(self.languages) * r.config.repeats


def plan_job(
    source: Any,
    *,
    provider: str | None = None,
    loader: PluginLoader | None = None,
    check_keys: bool = True,
) -> JobPlan:
    """Load the request and its plugins, build tool sets; calls no model.

    ``check_keys=False`` skips the API-key check: validating a request or showing its matrix needs none.
    """
    request = load_request(source)
    if provider:
        request = override_provider(request, provider)
    check_request(request, keys=check_keys)
    loader = loader or PluginLoader(default_url_map(request.config.url_map))
    plugins: dict[str, Plugin] = {}
    toolsets: dict[str, ToolSet] = {}
    for group in request.plugin_groups:
        members = []
        for ref in group.plugins:
            if ref.manifest_url not in plugins:
                plugins[ref.manifest_url] = loader.load(ref.manifest_url)
            members.append(plugins[ref.manifest_url])
        toolsets[group.name] = build_toolset(members)
        if not toolsets[group.name].tools:
            where = ", ".join(p.openapi_location for p in members)
            raise PluginLoadError(f"plugin group {group.name!r} has no operations to choose from: "
                                  f"check 'paths' in {where}")
    return JobPlan(request, plugins, toolsets, languages_of(request))


def _now() -> str:
    return datetime.now().isoformat(timespec="microseconds")


async def run_async(
    source: Any,
    *,
    reporter: Reporter | None = None,
    concurrency: int | None = None,
    cache: bool | None = None,
    provider: str | None = None,
    plan: JobPlan | None = None,
    store: JobStore | bool = True,
    job_id: str | None = None,
) -> JobResult:
    """Run a permutate job. ``source`` is a path, YAML/JSON text, a dict or a JobRequest.

    The job and each run's result go to the job store (``store=False``: nowhere) as they finish.
    ``job_id`` names a job already created in the store (a face that answers with the id first).
    """
    if plan is None:
        plan = await asyncio.to_thread(plan_job, source, provider=provider)
    job_store = _open_store(store)
    if job_id is None:
        job_id = (job_store.create_job("permutate", plan.request.name, plan.request.stored_dict(), plan.total_runs)
                  if job_store is not None else uuid.uuid4().hex[:12])
    return await _execute(plan, job_id, job_store, {}, reporter, concurrency, cache)


async def resume_async(
    job_id: str,
    *,
    reporter: Reporter | None = None,
    concurrency: int | None = None,
    cache: bool | None = None,
    store: JobStore | None = None,
) -> JobResult:
    """Finish a stored permutate job: only the runs without a stored result are run."""
    job_store = store or JobStore()
    job = job_store.job(job_id)
    plan = await asyncio.to_thread(plan_job, job["request"])
    done = {i: RunDetail.from_dict(row) for i, row in job_store.runs(job_id).items()}
    return await _execute(plan, job_id, job_store, done, reporter, concurrency, cache)


def _open_store(store: JobStore | bool) -> JobStore | None:
    if store is True:
        return JobStore()
    return store or None


def store_status(result: JobResult) -> tuple[str, str | None]:
    """The job store's status for a result, and an error message where every run failed."""
    if result.status == "cancelled":
        return "CANCELLED", None
    failed = [d for d in result.details if not d.is_run_completed]
    if not failed:
        return "SUCCESS", None
    if len(failed) == len(result.details):
        return "ERROR", f"every run failed; the first: {failed[0].error}"
    return "PARTIAL_SUCCESS", None


async def _execute(
    plan: JobPlan,
    job_id: str,
    job_store: JobStore | None,
    done: dict[int, RunDetail],
    reporter: Reporter | None,
    concurrency: int | None,
    cache: bool | None,
) -> JobResult:
    request = plan.request
    reporter = reporter or Reporter()
    width = concurrency or request.config.concurrency
    use_cache = request.config.cache if cache is None else cache
    started_wall, started = _now(), time.perf_counter()
    if job_store is not None:
        job_store.acquire_lease(job_id)  # refuses a job another live process runs
        job_store.start(job_id)
    # a run is reported done once its row is committed
    writer = job_store.run_writer(job_id, reporter.run_finished) if job_store is not None else ReportNow(reporter.run_finished)
    resources = JobResources(request.config, use_cache=use_cache, concurrency=width, request=request)
    details: list[RunDetail | None] = []
    async with stored_job(job_store, job_id, writer, resources):
        await resources.load_local_models(request, reporter)
        prompts, translation_errors = await build_prompts(
            request, plan.languages, lambda: resources.client(translator_llm(request)), concurrency=width,
            on_start=lambda todo: reporter.stage("translating", f"{todo} prompt" + "s" * (todo != 1)),
        )
        specs = expand_matrix(request, prompts)
        details = [done.get(spec.index) for spec in specs]
        selectors: list[ToolSelector] = [
            resources.selector(perm, plan.toolsets[perm.tool_selector.plugin_group_name])
            for perm in request.permutations
        ]
        reporter.job_started(JobStarted(
            _job_name(request, started_wall), len(specs),
            tuple(p.name for p in request.permutations), len(specs) // max(len(request.permutations), 1),
        ))
        for index, detail in enumerate(details):
            if detail is not None:
                reporter.run_finished(index, detail)

        async def work(spec: RunSpec) -> None:
            reporter.run_started(spec.index)
            t0 = time.perf_counter()
            if spec.prompt is None:
                detail = failed_row(request, spec, translation_errors[(spec.test_case, spec.language)], 0.0, 0)
            else:
                try:
                    selection = await selectors[spec.permutation].select(
                        spec.prompt, repeat=spec.repeat, test_type=request.test_cases[spec.test_case].type)
                    elapsed = selection.elapsed
                    detail = scored_row(request, spec, selection, time.perf_counter() - t0 if elapsed is None else elapsed)
                except PermutateError as exc:
                    detail = failed_row(request, spec, str(exc), time.perf_counter() - t0, getattr(exc, "attempts", 1))
                except Exception as exc:  # noqa: BLE001 - a bug in one run must not lose the job
                    detail = failed_row(request, spec, f"{type(exc).__name__}: {exc}", time.perf_counter() - t0, 1)
            details[spec.index] = detail
            await writer.save(spec.index, detail.to_dict(), detail)  # committed, then reported

        finished = await run_pool([s for s in specs if details[s.index] is None], work, width)
    result = JobResult(
        job_name=_job_name(request, started_wall),
        started_on=started_wall,
        completed_on=_now(),
        test_plugin=request.test_plugin.model_dump() if request.test_plugin else None,
        permutations=[p.model_dump(mode="json", exclude_none=True) for p in request.permutations],
        details=[d for d in details if d is not None],
        total_run_time=round(time.perf_counter() - started, 3),
        status="completed" if finished else "cancelled",
        planned_runs=len(details),
        request=request.public_dict(),
        job_id=job_id,
    )
    if job_store is not None:
        status, message = store_status(result)
        job_store.finish(job_id, status, {"job_name": result.job_name, "summary": result.summary},
                         error_code="ALL_RUNS_FAILED" if message else None, error_message=message)
    reporter.job_finished(result)
    return result


def _job_name(request: JobRequest, started: str) -> str:
    return f"{request.name}-{request.version}-{started[:10]}"


def run(source: Any, **kwargs: Any) -> JobResult:
    """Blocking ``run_async``. Inside a running event loop (a notebook) it uses a worker thread.

    Ctrl-C (or a kernel interrupt) cancels the job and returns the finished runs, marked cancelled.
    """
    return blocking(run_async(source, **kwargs))


def resume(job_id: str, **kwargs: Any) -> Any:
    """Blocking resume of a stored job of any kind: only runs without a stored result are run."""
    job = JobStore().job(job_id)
    if job["kind"] == "batch":
        from .batch import resume_batch_async

        return blocking(resume_batch_async(job_id, **kwargs))
    if job["kind"] == "eval":
        from .evals.runner import resume_eval_async

        return blocking(resume_eval_async(job_id, **{k: v for k, v in kwargs.items() if v is not None}))
    return blocking(resume_async(job_id, **kwargs))


def blocking(coro: Any) -> Any:
    """Run a coroutine to completion from sync code, in a worker thread when a loop is running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    return _run_in_thread(coro)


def _run_in_thread(coro: Any) -> Any:
    loop = asyncio.new_event_loop()
    task = loop.create_task(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        asyncio.set_event_loop(loop)
        try:
            box["result"] = loop.run_until_complete(task)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc
        finally:
            loop.close()

    thread = threading.Thread(target=target, name="permutate-job", daemon=True)
    thread.start()
    while thread.is_alive():
        try:
            thread.join(0.2)
        except KeyboardInterrupt:
            loop.call_soon_threadsafe(task.cancel)
    if "error" in box:
        raise box["error"]
    return box["result"]
