"""Expectations that can never be met, found before any model is called (``permutate validate``).

A test case that names a plugin no permutation offers, an operation the plugin does not have,
or a parameter value of the wrong type fails every run; saying so up front saves a paid job.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol

from ..plugins.loader import Plugin
from ..plugins.openapi import Operation
from ..plugins.tools import ToolSet
from ..request.locations import normalise_url
from ..request.models import ExpectedCall, JobRequest, Permutation, TestCase
from ..scoring.matching import fits_type


class JobPlan(Protocol):
    """What is read of a ``permutate.JobPlan`` (which calls this module as it plans: no import back)."""

    request: JobRequest
    plugins: dict[str, Plugin]
    toolsets: dict[str, ToolSet]
    backends: dict[str, type]


__all__ = ["expectation_warnings"]


def expectation_warnings(plan: JobPlan) -> list[str]:
    """One line per expectation that cannot be met, in test case order."""
    return [line for case in plan.request.test_cases for line in _case_warnings(plan, case)]


def _multi_call_selector(perm: Permutation) -> bool:
    """Whether the permutation's selector returns every call of an answer (OpenAI function calling,
    LangChain tool calling) rather than one (a completion prompt, the ReAct agent, Imprompt)."""
    ts = perm.tool_selector
    if ts.provider == "OpenAI":
        return perm.llm.provider != "OpenAI"
    return ts.provider == "Langchain" and ts.pipeline_name != "zero-shot-react-description"


def _conversation_warnings(plan: JobPlan, case: TestCase, where: str) -> Iterator[str]:
    """A turn expecting a tool that no permutation offers (the group's tools, plus its backend's methods)."""
    from ..conversation.backend import backend_toolset

    tools: set[str] = set()
    for perm in plan.request.permutations:
        toolset = plan.toolsets[perm.tool_selector.plugin_group_name]
        if case.backend:
            toolset = backend_toolset(case.backend, plan.backends[case.backend], toolset)
        tools |= set(toolset.by_name) | {normalise_url(op.url) for op in toolset.by_name.values()}
    for t, turn in enumerate(case.turns or ()):
        for i, call in enumerate(turn.expected_calls or ()):
            if call.api not in tools and normalise_url(call.api) not in tools:
                nearest = difflib.get_close_matches(call.api, sorted(tools), n=1, cutoff=0.0)
                hint = f" (nearest: {nearest[0]})" if nearest else ""
                yield f"{where}: turns[{t}].expected_calls[{i}].api {call.api} is no tool the conversation offers{hint}"


def _case_warnings(plan: JobPlan, case: TestCase) -> Iterator[str]:
    where = f"test case {case.name!r}"
    if case.type == "conversation":
        yield from _conversation_warnings(plan, case, where)
        return
    if case.expected_calls is not None and len(case.expected_calls) > 1:
        single = [p.name for p in plan.request.permutations if not _multi_call_selector(p)]
        if single:
            yield (f"{where}: expected_calls lists {len(case.expected_calls)} calls, but the selector of "
                   f"{', '.join(single)} returns one call, so it can never pass (use OpenAI function calling "
                   "or the Langchain tool-calling pipeline)")
    calls: Sequence[ExpectedCall | TestCase] = case.expected_calls or ([] if case.multi_call else [case])
    for i, call in enumerate(calls):
        if isinstance(call, TestCase):  # no expected_calls: the case's own fields, required then
            assert call.expected_plugin_used is not None and call.expected_api_used is not None
            fields = ("expected_plugin_used", "expected_api_used", "expected parameter", "expected value")
            spec = (call.expected_plugin_used, call.expected_api_used, call.expected_method, call.expected_parameters)
        else:
            fields = (f"expected_calls[{i}].plugin", f"expected_calls[{i}].api", f"expected_calls[{i}] parameter",
                      f"expected_calls[{i}] value")
            spec = (call.plugin, call.api, call.method, call.parameters)
        yield from _call_warnings(plan, where, fields, *spec)


def _call_warnings(plan: JobPlan, where: str, fields: tuple[str, str, str, str], plugin_url: str, api: str,
                   method: str | None, parameters: Mapping | None) -> Iterator[str]:
    wanted = normalise_url(plugin_url)
    groups = {p.tool_selector.plugin_group_name for p in plan.request.permutations}
    offered = {normalise_url(ref.location) for g in plan.request.plugin_groups if g.name in groups for ref in g.plugins}
    if wanted not in offered:
        yield (f"{where}: {fields[0]} {plugin_url} is in no plugin group of the permutations "
               f"that run it ({', '.join(sorted(groups))})")
    plugin = next((p for p in plan.plugins.values() if normalise_url(p.id) == wanted), None)
    if plugin is None:
        return
    operation = _operation(plugin.operations, api, method)
    if operation is None:
        shown = f"{(method or '').upper()} {api}".strip()
        choices = {_label(op): op for op in plugin.operations}
        nearest = difflib.get_close_matches(shown, list(choices), n=1, cutoff=0.0)
        hint = f" (nearest: {nearest[0]})" if nearest else " (it has no operations)"
        yield f"{where}: {fields[1]} {shown} is no operation of {plugin.name}{hint}"
        return
    properties = operation.parameters.get("properties") or {}
    for name, value in (parameters or {}).items():
        if name not in properties:
            known = ", ".join(properties) or "none"
            yield (f"{where}: {fields[2]} {name!r} is not a parameter of "
                   f"{_label(operation)} (it has: {known})")
        elif not fits_type(value, properties[name]):
            kind = properties[name].get("type") if isinstance(properties[name], Mapping) else None
            yield f"{where}: {fields[3]} {value!r} of parameter {name!r} cannot be of type {kind}"


def _label(operation: Operation) -> str:
    """``GET https://...`` for an HTTP operation, the tool name for an MCP or function tool."""
    return f"{operation.method} {operation.url}".strip()


def _operation(operations: list[Operation], api: str, method: str | None) -> Operation | None:
    url = normalise_url(api)
    method = (method or "").strip().upper()
    return next((op for op in operations if normalise_url(op.url) == url and (not method or op.method == method)), None)
