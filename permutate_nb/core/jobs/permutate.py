"""Permutate jobs: plan a request x plugins matrix, then run it as a ``PermutateJob`` on the runner.

``plan_job`` does the slow, synchronous part once (request, manifests, tool schemas);
``core.runner.execute`` then drives its pool over the runs, so the per-run path is: cache
look-up or one HTTP call, JSON parsing, scoring. A run that fails after its retries, or
runs past ``config.timeout_sec`` (one deadline per run, retries included), is recorded as
failed; Ctrl-C (cancellation) returns what finished, marked CANCELLED.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from ...errors import PermutateWarning, PluginLoadError
from ..context import Context, default_context
from ..conversation.backend import EndStateScorer
from ..doc_time import doc_now, doc_time
from ..plugins.fetch import default_url_map
from ..plugins.loader import Plugin, PluginLoader
from ..plugins.mcp_source import McpStartError
from ..plugins.tool_sources import list_servers, load_ref
from ..plugins.tools import ToolSet, build_toolset
from ..request.matrix import Matrix, expand_matrix, languages_of, run_order
from ..request.models import JobRequest, Permutation, PluginRef, load_request
from ..request.provider_override import override_provider
from ..scoring.rows import ScoreMemo, failed_row, scored_row
from ..selectors.base import ToolSelector
from ..stats.tally import Tallies
from ..status import Ending, from_counts
from ..store.stored_rows import StoredRows
from .conversations import Conversations, load_backends
from .events import JobStarted, Reporter
from .expectations import expectation_warnings
from .factory import JobResources, check_request, translator_llm
from .permutate_result import JobResult, RunDetail
from .runner import Finished, Job
from .translate import build_prompts, untranslated_prompt

__all__ = ["JobPlan", "PermutateJob", "plan_job"]


@dataclass(slots=True)
class JobPlan:
    """A validated request with its plugins loaded and tool sets built."""

    request: JobRequest
    plugins: dict[str, Plugin]
    toolsets: dict[str, ToolSet]
    languages: list[str]
    warnings: list[str] = field(default_factory=list)
    broken: dict[str, str] = field(default_factory=dict)  # plugin id -> why its source did not start (an MCP server)
    backends: dict[str, type] = field(default_factory=dict)  # a conversation's backend path -> its class

    def group_failure(self, group: str) -> str | None:
        """Why the runs of ``group`` cannot run (a member's MCP server did not start), else None."""
        reasons = [self.broken[ref.location] for ref in self.request.group(group).plugins if ref.location in self.broken]
        return "; ".join(reasons) or None

    def tool_snapshot(self) -> dict[str, Any]:
        """The tools each plugin group offered (names, descriptions, schemas) with their hash: stored with the job."""
        from ..plugins.tool_snapshot import snapshot

        return snapshot(self.toolsets)

    @property
    def total_runs(self) -> int:
        """Runs in the matrix: permutations x test cases x languages x repeats."""
        r = self.request
        return len(r.permutations) * len(r.test_cases) * len(self.languages) * r.config.repeats


def plan_job(
    source: Any,
    *,
    provider: str | None = None,
    loader: PluginLoader | None = None,
    check_keys: bool = True,
    context: Context | None = None,
    reporter: Reporter | None = None,
) -> JobPlan:
    """Load the request and its plugins, build tool sets; calls no model.

    ``check_keys=False`` skips the API-key check: validating a request or showing its matrix needs none.
    ``reporter`` hears the ``reading plugins`` stage (fetching manifests and OpenAPI documents can take a while).
    """
    request = load_request(source)
    if provider:
        request = override_provider(request, provider)
    check_request(request, keys=check_keys)
    if reporter is not None:
        count = len({ref.manifest_url for group in request.plugin_groups for ref in group.plugins})
        reporter.stage("reading plugins", f"{count} plugin" + "s" * (count != 1))
    fallbacks = (context or default_context()).fallbacks
    loader = loader or PluginLoader(default_url_map(request.config.url_map), fallbacks=fallbacks)
    plugins: dict[str, Plugin] = {}
    toolsets: dict[str, ToolSet] = {}
    broken: dict[str, str] = {}
    listed = list_servers(request)  # MCP servers start in parallel: seconds each
    for group in request.plugin_groups:
        members = []
        for ref in group.plugins:
            key = ref.location
            if key not in plugins and key not in broken:
                try:
                    plugins[key] = load_ref(loader, ref, request.config.timeout_sec, listed)
                except McpStartError as exc:  # the job still runs: its runs fail with this reason
                    broken[key] = str(exc)
                    warnings.warn(str(exc), PermutateWarning, stacklevel=2)
            if key in plugins:
                members.append(plugins[key])
        toolsets[group.name] = build_toolset(members)
        if not toolsets[group.name].tools and not any(ref.location in broken for ref in group.plugins):
            where = ", ".join(p.openapi_location for p in members)
            check = "the tools of" if all(ref.manifest_url is None for ref in group.plugins) else "'paths' in"
            raise PluginLoadError(f"plugin group {group.name!r} has no operations to choose from: check {check} {where}")
    plan = JobPlan(request, plugins, toolsets, languages_of(request), broken=broken, backends=load_backends(request))
    plan.warnings = expectation_warnings(plan)
    for line in plan.warnings:  # every face shows them as the job is planned: %%permutate, the builder, pn.run
        warnings.warn(f"impossible expectation: {line}", PermutateWarning, stacklevel=2)
    return plan


def _now() -> str:
    return doc_now()  # UTC, the document's format (core.doc_time)


class PermutateJob(Job[RunDetail]):
    """Request x plugins: one unit per permutation x test case x language x repeat."""

    kind = "permutate"

    def __init__(self, plan: JobPlan, *, end_state: EndStateScorer | None = None) -> None:
        """``end_state`` checks a conversation backend's end state instead of comparing ``expected_state``
        (a BFCL job passes BFCL's checker)."""
        self.plan = plan
        request = plan.request
        self.name = request.name
        self.width = request.config.concurrency
        self.deadline = request.config.timeout_sec
        self.executor = request.config.executor
        self._started_on = _now()
        self._first_started_on: str | None = None  # a resumed job's first start (kept in its record)
        self._completed_on: str | None = None
        self._specs: Matrix | None = None
        self._selectors: list[ToolSelector | None] = []
        self._failures: list[str | None] = []
        self._translation_errors: dict[tuple[int, str], str] = {}
        self._translations: dict[tuple[int, str], str] = {}
        self._scores = ScoreMemo()
        self._conversations = Conversations(request, plan.toolsets, plan.backends, end_state)

    @classmethod
    def from_request(cls, request: dict[str, Any]) -> PermutateJob:
        """The job planned again from its stored request (resume): its plugins loaded and checked again."""
        return cls(plan_job(request))

    @classmethod
    def stored_result(cls, job: dict[str, Any], rows: StoredRows[dict[str, Any]]) -> JobResult:
        """The start-job result from the stored record and rows; the rows are read from the store as used."""
        request = job["request"]
        data = job.get("data") or {}
        started: str = data.get("started_on") or doc_time(job["started_at"] or job["created_at"]) or ""
        return JobResult(
            job_name=data.get("job_name") or f"{request.get('name')}-{request.get('version', '1.0.0')}-{started[:10]}",
            started_on=started,
            completed_on=data.get("completed_on") or doc_time(job["ended_at"]) or "",
            test_plugin=full_test_plugin(request.get("test_plugin")),
            permutations=full_permutations(request.get("permutations", [])),
            details=rows.rows_as(RunDetail.from_dict),
            total_run_time=data.get("total_run_time", _seconds(job["started_at"], job["ended_at"])),
            status=job["status"],
            planned_runs=job["planned_runs"],
            request=request,
            job_id=job["id"],
            record=job,
            tools=data.get("tools"),
        )

    @property
    def size(self) -> int:
        """One unit per permutation x test case x language x repeat."""
        return self.plan.total_runs

    def order(self) -> Iterator[int]:
        """Permutations, languages and cases interleaved (``matrix.run_order``)."""
        r = self.plan.request
        return run_order(len(r.permutations), len(r.test_cases), len(self.plan.languages), r.config.repeats)

    def resumed(self, record: dict[str, Any]) -> None:
        """A resumed job keeps the start its record holds, so its name and ``started_on`` stay the same."""
        self._first_started_on = (record.get("data") or {}).get("started_on") or doc_time(record.get("started_at"))

    def shipped(self) -> dict[str, Any]:
        """The stored request with this job's translations pinned, so every worker sends the same prompts."""
        data = self.request()
        for (case, language), text in self._translations.items():
            data["test_cases"][case].setdefault("translations", {})[language] = text
        return data

    def request(self) -> dict[str, Any]:
        """The request as the store keeps it (``stored_dict``: no secrets)."""
        return self.plan.request.stored_dict()

    def resources(self, cache: bool | None, width: int, context: Any) -> JobResources:
        """Clients, sessions and cache from the request's config; ``cache`` overrides ``config.cache``."""
        request = self.plan.request
        use_cache = request.config.cache if cache is None else cache
        return JobResources(request.config, use_cache=use_cache, concurrency=width, request=request, context=context)

    async def prepare(self, resources: JobResources, width: int, reporter: Reporter) -> JobStarted:
        """Load embedded models, translate the prompts, expand the matrix and build each permutation's
        selector; the start event names the permutations."""
        request = self.plan.request
        self._started_on = self._first_started_on or _now()
        await resources.load_local_models(request, reporter)
        prompts, self._translation_errors = await build_prompts(
            request, self.plan.languages, lambda: resources.client(translator_llm(request)), concurrency=width,
            on_start=lambda todo: reporter.stage("translating", f"{todo} prompt" + "s" * (todo != 1)),
        )
        self._specs = expand_matrix(request, prompts)
        self._translations = {key: text for key, text in prompts.items()
                              if text is not None and untranslated_prompt(request.test_cases[key[0]], key[1]) is None}
        self._failures = [self.plan.group_failure(perm.tool_selector.plugin_group_name) for perm in request.permutations]
        self._selectors = [None if failure else resources.selector(perm, self.plan.toolsets[perm.tool_selector.plugin_group_name])
                           for perm, failure in zip(request.permutations, self._failures)]
        names = tuple(p.name for p in request.permutations)
        return JobStarted(self._job_name(), len(self._specs), names, len(self._specs) // max(len(names), 1))

    async def run(self, index: int, resources: JobResources) -> RunDetail:
        """One matrix cell: its prompt to its permutation's selector (a conversation case: the whole
        conversation), scored; a failed row if the prompt was not translated or the group's plugin did not start."""
        request, spec = self.plan.request, self._specs[index]  # type: ignore[index]
        if spec.prompt is None:
            return failed_row(request, spec, self._translation_errors[(spec.test_case, spec.language)], 0.0, 0)
        if self._failures[spec.permutation] is not None:  # a plugin of its group did not start
            return failed_row(request, spec, self._failures[spec.permutation], 0.0, 0)  # type: ignore[arg-type]
        if request.test_cases[spec.test_case].type == "conversation":
            return await self._conversations.run(spec, resources)
        t0 = time.perf_counter()
        selection = await self._selectors[spec.permutation].select(  # type: ignore[union-attr]
            spec.prompt, repeat=spec.repeat, test_type=request.test_cases[spec.test_case].type)
        elapsed = selection.elapsed
        return scored_row(request, spec, selection, time.perf_counter() - t0 if elapsed is None else elapsed, self._scores)

    def failed(self, index: int, error: str, elapsed: float, attempts: int, timed_out: bool) -> RunDetail:
        """The run's failed row: the error and attempts, every step false, nothing billed."""
        return failed_row(self.plan.request, self._specs[index], error, elapsed, attempts)  # type: ignore[index]

    def timeout_message(self) -> str:
        """The timed-out row's error names ``config.timeout_sec``, the limit a request sets."""
        return f"no answer within config.timeout_sec={self.deadline:g} s (the run's deadline, retries included)"

    def dump(self, row: RunDetail) -> dict[str, Any]:
        """The row as the store keeps it (``RunDetail.to_dict``)."""
        return row.to_dict()

    def restore(self, index: int, data: dict[str, Any]) -> RunDetail:
        """The stored row as a ``RunDetail``."""
        return RunDetail.from_dict(data)

    def keep(self, stored: bool) -> Tallies:
        """The summary's counts as rows finish; the rows themselves only without a store."""
        return Tallies(None if stored else [None] * self.size)

    def status(self, kept: Tallies, finished: bool) -> Ending:
        """From the kept counts; ERROR (ALL_RUNS_FAILED, naming the first failure) when every run failed."""
        status = from_counts(kept.failed, len(kept), finished)
        if status == "ERROR":
            first = kept.first_failure[1] if kept.first_failure else None
            return Ending(status, "ALL_RUNS_FAILED", f"every run failed; the first: {first}")
        return Ending(status)

    def store_data(self, kept: Tallies, elapsed: float) -> dict[str, Any]:
        """What a later fetch needs to answer the same document as the blocking call."""
        self._completed_on = self._completed_on or _now()
        return {"job_name": self._job_name(), "summary": kept.summary(round(elapsed, 3)),
                "started_on": self._started_on, "completed_on": self._completed_on,
                "total_run_time": round(elapsed, 3), "tools": self.plan.tool_snapshot()}

    def result(self, finished: Finished[RunDetail]) -> JobResult:
        """The start-job result: rows read from the store when there is one, with the counts kept as they ran."""
        request = self.plan.request
        return JobResult(
            job_name=self._job_name(),
            started_on=self._started_on,
            completed_on=self._completed_on or _now(),
            test_plugin=request.test_plugin.model_dump(mode="json", exclude_none=True) if request.test_plugin else None,
            permutations=[p.model_dump(mode="json", exclude_none=True) for p in request.permutations],
            details=(StoredRows(finished.store.path, finished.job_id, RunDetail.from_dict) if finished.store is not None
                     else [row for row in finished.kept.rows if row is not None]),
            total_run_time=round(finished.elapsed, 3),
            status=finished.status,
            planned_runs=self.size,
            request=request.public_dict(),
            job_id=finished.job_id,
            tallies=finished.kept,
            record=finished.record,
            tools=self.plan.tool_snapshot(),
        )

    def _job_name(self) -> str:
        request = self.plan.request
        return f"{request.name}-{request.version}-{self._started_on[:10]}"


def full_permutations(stored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored permutations (defaults left out) as the blocking call shows them: ``llm.provider``,
    ``tool_selector.provider`` and ``pipeline_name`` even when they hold their defaults."""
    try:
        return [Permutation.model_validate(p).model_dump(mode="json", exclude_none=True) for p in stored]
    except ValidationError:
        return stored  # written by another version: shown as stored


def full_test_plugin(stored: dict[str, Any] | None) -> dict[str, Any] | None:
    if stored is None:
        return None
    try:
        return PluginRef.model_validate(stored).model_dump(mode="json", exclude_none=True)
    except ValidationError:
        return stored


def _seconds(start: str | None, end: str | None) -> float:
    if not start or not end:
        return 0.0
    parse = lambda t: datetime.fromisoformat(t.replace("Z", "+00:00"))  # noqa: E731
    return round((parse(end) - parse(start)).total_seconds(), 3)
