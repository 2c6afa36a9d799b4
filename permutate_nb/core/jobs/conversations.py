"""The conversation runs of a permutate job: one unit is one whole conversation.

Why its own module: a conversation needs, per permutation x test case, a selector over the
group's tools plus its backend's methods, and per run a fresh backend and tool responder.
The runner gives the unit its deadline (``config.timeout_sec`` covers the whole
conversation), its cache and retries; ``end_state`` is the hook a BFCL job fills with
BFCL's own checker.
"""

from __future__ import annotations

import time
from typing import Any

from ..conversation.backend import EndStateScorer, backend_toolset, load_backend, new_backend
from ..conversation.loop import converse
from ..conversation.row import conversation_row
from ..conversation.tool_results import ToolResponder
from ..plugins.tools import ToolSet
from ..request.matrix import RunSpec
from ..request.models import JobRequest
from ..scoring.detail import RunDetail
from ..selectors.openai_functions import OpenAIFunctionsSelector
from .factory import JobResources

__all__ = ["Conversations", "load_backends"]


def load_backends(request: JobRequest) -> dict[str, type]:
    """Every backend class the request's conversations name, imported once (a bad path: one line naming it)."""
    return {case.backend: load_backend(case.backend) for case in request.test_cases if case.backend}


class Conversations:
    """Runs a job's conversation units; ``end_state`` replaces the default end-state check."""

    def __init__(self, request: JobRequest, toolsets: dict[str, ToolSet], backends: dict[str, type],
                 end_state: EndStateScorer | None = None) -> None:
        self._request = request
        self._toolsets = toolsets
        self._backends = backends
        self._end_state = end_state
        self._selectors: dict[tuple[int, int], OpenAIFunctionsSelector] = {}

    def _toolset(self, spec: RunSpec) -> ToolSet:
        """The tools a run's conversation starts from: its permutation's group (a BFCL job: its case's own)."""
        return self._toolsets[self._request.permutations[spec.permutation].tool_selector.plugin_group_name]

    def _selector(self, spec: RunSpec, resources: JobResources) -> OpenAIFunctionsSelector:
        key = (spec.permutation, spec.test_case)
        selector = self._selectors.get(key)
        if selector is None:
            perm = self._request.permutations[spec.permutation]
            case = self._request.test_cases[spec.test_case]
            toolset = self._toolset(spec)
            if case.backend:
                toolset = backend_toolset(case.backend, self._backends[case.backend], toolset)
            selector = self._selectors[key] = OpenAIFunctionsSelector(resources.client(perm.llm), toolset,
                                                                       resources.prices)
        return selector

    async def run(self, spec: RunSpec, resources: JobResources) -> RunDetail:
        """Run one conversation: the case's turns with its permutation's model, tool results from the case
        or its backend; the scored row."""
        request = self._request
        case = request.test_cases[spec.test_case]
        started = time.perf_counter()
        backend: Any = None
        if case.backend:
            backend = new_backend(self._backends[case.backend], case.initial_config)
        responder = ToolResponder(case.tool_results, backend, resources.executor())
        out = await converse(self._selector(spec, resources), case, repeat=spec.repeat, responder=responder,
                             mode=request.matching_mode(case), language=request.language(case), backend=backend,
                             end_state=self._end_state)
        return conversation_row(request, spec, out, time.perf_counter() - started)
