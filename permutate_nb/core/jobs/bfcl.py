"""``permutate bfcl``: BFCL's categories run as a job on the one runner, scored as BFCL does.

Single-turn cases are one call each; multi-turn entries are conversations (``bfcl_conversation``)
run by the conversation engine, over their case's functions, scored by BFCL's multi-turn checker
through the engine's end-state hook.

Why a job kind of its own: a permutate job offers every test case the whole tool set of its
permutation's plugin group, while BFCL offers each case only its own functions. ``BfclJob`` is a
``PermutateJob`` (store, resume, cache, Ray, rows and summaries unchanged) whose runs each use a
selector over their case's functions; ``BfclResult`` adds BFCL's per-category accuracies and
summary formulas (``core.bfcl_suite.report``) to the usual result.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..context import Context
from ..plugins.openapi import Operation
from ..plugins.tools import ToolSet, toolset_of
from ..request.matrix import RunSpec
from ..scoring.rows import failed_row, scored_row
from ..selectors.base import ToolSelector
from ..store.stored_rows import StoredRows
from .bfcl_conversation import bfcl_end_state, check_backends, conversation_case, read_multi_turn_entries
from .bfcl_suite import (
    ALL_CATEGORIES,
    MULTI_TURN_CATEGORIES,
    build_request,
    check_categories,
    read_entries,
    report,
    test_case,
)
from .conversations import Conversations
from .events import Reporter
from .factory import JobResources
from .permutate import JobPlan, PermutateJob, plan_job
from .permutate_result import JobResult, RunDetail
from .runner import Finished

__all__ = ["BfclJob", "BfclResult", "bfcl_permutation"]


@dataclass(slots=True, repr=False)
class BfclResult(JobResult):
    """A BFCL job's result: the permutate result plus BFCL's scores (``report``, ``table``)."""

    @property
    def report(self) -> dict[str, Any]:
        """Per permutation: each category's accuracy and Wilson interval, BFCL's summary formulas
        (simple, non_live, live, irrelevance, relevance, multi_turn, overall), cost, latency mean / p95."""
        return report(self.details)

    def table(self) -> list[dict[str, Any]]:
        """One row per permutation x category, then each permutation's summary rows."""
        rows = []
        for perm, scores in self.report.items():
            for category, figures in scores["categories"].items():
                rows.append({"model": perm, "category": category, **figures})
            for key in ("non_live", "live", "irrelevance", "relevance", "multi_turn", "overall"):
                if scores[key] is not None:
                    rows.append({"model": perm, "category": f"({key})", "accuracy": scores[key]})
        return rows

    def table_df(self) -> Any:
        """``table()`` as a pandas DataFrame: what the notebook shows for the result."""
        import pandas as pd

        return pd.DataFrame(self.table())

    def plot(self) -> Any:
        """Accuracy per category and model, with the Wilson intervals as error bars (matplotlib)."""
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(10, 4))
        report_ = self.report
        categories = [c for c in ALL_CATEGORIES if any(c in s["categories"] for s in report_.values())]
        width = 0.8 / max(len(report_), 1)
        for k, (perm, scores) in enumerate(report_.items()):
            xs: list[float] = []
            ys: list[float] = []
            errs: list[list[float]] = [[], []]
            for i, category in enumerate(categories):
                figures = scores["categories"].get(category)
                if figures is None:
                    continue
                low, high = figures["accuracy_ci"] or (figures["accuracy"], figures["accuracy"])
                xs.append(i + k * width)
                ys.append(figures["accuracy"])
                errs[0].append(figures["accuracy"] - low)
                errs[1].append(high - figures["accuracy"])
            ax.bar(xs, ys, width, yerr=errs, label=perm, capsize=2)
        ax.set_xticks([i + width * (len(report_) - 1) / 2 for i in range(len(categories))], categories, rotation=30, ha="right")
        ax.set_ylabel("accuracy (%)")
        ax.set_ylim(0, 100)
        ax.legend()
        fig.tight_layout()
        return fig

    def _repr_html_(self) -> str:
        return self.table_df().to_html(index=False, na_rep="")

    def __repr__(self) -> str:
        overall = {perm: s["overall"] for perm, s in self.report.items()}
        return f"BfclResult({self.job_name!r}, status={self.status!r}, runs={len(self.details)}, overall={overall})"


def _as_bfcl(result: JobResult) -> BfclResult:
    return BfclResult(**{f.name: getattr(result, f.name) for f in dataclasses.fields(JobResult)})


class _CaseConversations(Conversations):
    """A BFCL job's conversations: each offered its case's own functions, scored by BFCL's checker."""

    def __init__(self, plan: JobPlan, case_tools: dict[tuple[str, int], ToolSet]) -> None:
        super().__init__(plan.request, plan.toolsets, plan.backends, end_state=bfcl_end_state)
        self._case_tools = case_tools  # filled by BfclJob.prepare

    def _toolset(self, spec: RunSpec) -> ToolSet:
        group = self._request.permutations[spec.permutation].tool_selector.plugin_group_name
        return self._case_tools[(group, spec.test_case)]


class BfclJob(PermutateJob):
    """BFCL cases x permutations; each run offers the model only its case's functions."""

    kind = "bfcl"

    def __init__(self, plan: JobPlan) -> None:
        super().__init__(plan)
        self._case_tools: dict[tuple[str, int], ToolSet] = {}
        self._case_selectors: dict[tuple[int, int], ToolSelector] = {}
        self._conversations = _CaseConversations(plan, self._case_tools)

    @classmethod
    def from_request(cls, request: dict[str, Any]) -> BfclJob:
        """The BFCL job planned again from its stored request (resume)."""
        return cls(plan_job(request))

    @classmethod
    def stored_result(cls, job: dict[str, Any], rows: StoredRows[dict[str, Any]]) -> BfclResult:
        """The stored permutate result, with BFCL's scores on top."""
        return _as_bfcl(PermutateJob.stored_result(job, rows))

    async def prepare(self, resources: JobResources, width: int, reporter: Reporter) -> Any:
        """A permutate job's preparation, then each group's tool set split into each case's own functions."""
        started = await super().prepare(resources, width, reporter)
        for group, toolset in self.plan.toolsets.items():
            by_case: dict[str, list[Operation]] = defaultdict(list)
            for operation in toolset.by_name.values():
                by_case[operation.path.strip("/").split("/", 1)[0]].append(operation)
            plugins = toolset.plugins
            for index, case in enumerate(self.plan.request.test_cases):
                self._case_tools[(group, index)] = toolset_of(by_case.get(case.name, []), plugins)
        return started

    def _selector(self, spec: RunSpec, resources: JobResources) -> ToolSelector:
        key = (spec.permutation, spec.test_case)
        selector = self._case_selectors.get(key)
        if selector is None:
            perm = self.plan.request.permutations[spec.permutation]
            toolset = self._case_tools[(perm.tool_selector.plugin_group_name, spec.test_case)]
            selector = self._case_selectors[key] = resources.selector(perm, toolset)
        return selector

    async def run(self, index: int, resources: JobResources) -> RunDetail:
        """One case offered only its own functions (a multi-turn entry runs as a conversation); its scored row."""
        import time

        request, spec = self.plan.request, self._specs[index]  # type: ignore[index]
        if spec.prompt is None:
            return failed_row(request, spec, self._translation_errors[(spec.test_case, spec.language)], 0.0, 0)
        if request.test_cases[spec.test_case].type == "conversation":  # a multi-turn entry
            return await self._conversations.run(spec, resources)
        t0 = time.perf_counter()
        selection = await self._selector(spec, resources).select(
            spec.prompt, repeat=spec.repeat, test_type=request.test_cases[spec.test_case].type)
        elapsed = selection.elapsed
        return scored_row(request, spec, selection, time.perf_counter() - t0 if elapsed is None else elapsed)

    def result(self, finished: Finished[RunDetail]) -> BfclResult:
        """The permutate result as a ``BfclResult``, with BFCL's scores."""
        return _as_bfcl(super().result(finished))


def bfcl_permutation(model: str, *, provider: str | None = None, base_url: str | None = None,
                     name: str | None = None, **llm: Any) -> dict[str, Any]:
    """A permutation for ``model``: OpenAI-compatible function calling, or the embedded model
    (``provider="local"``; a ``.gguf`` path is its model file)."""
    settings: dict[str, Any] = {"provider": provider or "OpenAIChat", **llm}
    if provider == "local" and model.endswith(".gguf"):
        settings["model_path"] = model
    else:
        settings["model_name"] = model
    if base_url:
        settings["base_url"] = base_url
    return {"name": name or model, "llm": settings, "tool_selector": {"provider": "OpenAI", "plugin_group_name": "bfcl"}}


def _case_of(entry: Any, plugin: str) -> dict[str, Any]:
    return conversation_case(entry, plugin) if entry["category"] in MULTI_TURN_CATEGORIES else test_case(entry, plugin)


def bfcl_plan(categories: str | list[str], models: str | list[str] | list[dict[str, Any]], *,
              provider: str | None = None, base_url: str | None = None, limit: int | None = None,
              config: dict[str, Any] | None = None, folder: Path | None = None,
              context: Context | None = None) -> JobPlan:
    """Read the categories from the installed bfcl-eval and plan the job (calls no model)."""
    names = check_categories(categories.split(",") if isinstance(categories, str) else categories)
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be 1 or more, got {limit}")
    entries = [e for category in names for e in (read_multi_turn_entries(category, limit=limit)
                                                  if category in MULTI_TURN_CATEGORIES else read_entries(category, limit=limit))]
    check_backends([e for e in entries if e["category"] in MULTI_TURN_CATEGORIES])
    chosen: list[Any] = [models] if isinstance(models, (str, dict)) else list(models)
    permutations = [m if isinstance(m, dict) else bfcl_permutation(m, provider=provider, base_url=base_url)
                    for m in chosen]
    request = build_request(entries, permutations, config=config, folder=folder, case_of=_case_of)
    return plan_job(request, context=context)
