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
from ..scoring.matching import fits_type, is_matcher


class JobPlan(Protocol):
    """What is read of a ``permutate.JobPlan`` (which calls this module as it plans: no import back)."""

    request: JobRequest
    plugins: dict[str, Plugin]
    toolsets: dict[str, ToolSet]
    backends: dict[str, type]


__all__ = ["expectation_warnings"]


def expectation_warnings(plan: JobPlan) -> list[str]:
    """One line per expectation that cannot be met, in test case order."""
    lookup = _Lookup(plan)
    return [line for case in plan.request.test_cases for line in _case_warnings(plan, lookup, case)]


class _Lookup:
    """The plan's plugins, operations and tools, indexed once: each of a big request's cases (a BFCL suite's
    thousands, each with its own plugin) is then looked up, not found by scanning every plugin and operation."""

    def __init__(self, plan: JobPlan) -> None:
        self.plan = plan
        self.groups = {p.tool_selector.plugin_group_name for p in plan.request.permutations}
        self.offered = {normalise_url(ref.location) for g in plan.request.plugin_groups if g.name in self.groups
                        for ref in g.plugins}
        self.plugins: dict[str, Plugin] = {}
        for plugin in plan.plugins.values():
            self.plugins.setdefault(normalise_url(plugin.id), plugin)
        self._operations: dict[str, dict[str, list[Operation]]] = {}
        self._tools: dict[str | None, set[str]] = {}

    def operation(self, plugin_key: str, api: str, method: str | None) -> Operation | None:
        """The plugin's first operation at ``api`` (and of ``method``, when one is given)."""
        by_url = self._operations.get(plugin_key)
        if by_url is None:
            by_url = self._operations[plugin_key] = {}
            for op in self.plugins[plugin_key].operations:
                by_url.setdefault(normalise_url(op.url), []).append(op)
        method = (method or "").strip().upper()
        return next((op for op in by_url.get(normalise_url(api), ()) if not method or op.method == method), None)

    def conversation_tools(self, backend: str | None) -> set[str]:
        """The names and URLs of every tool a permutation offers a conversation (with ``backend``'s methods)."""
        if backend not in self._tools:
            from ..conversation.backend import backend_toolset

            tools: set[str] = set()
            for perm in self.plan.request.permutations:
                toolset = self.plan.toolsets[perm.tool_selector.plugin_group_name]
                if backend:
                    toolset = backend_toolset(backend, self.plan.backends[backend], toolset)
                tools |= set(toolset.by_name) | {normalise_url(op.url) for op in toolset.by_name.values()}
            self._tools[backend] = tools
        return self._tools[backend]


def _multi_call_selector(perm: Permutation) -> bool:
    """Whether the permutation's selector returns every call of an answer (OpenAI function calling,
    LangChain tool calling) rather than one (a completion prompt, the ReAct agent, Imprompt)."""
    ts = perm.tool_selector
    if ts.provider == "OpenAI":
        return perm.llm.provider != "OpenAI"
    return ts.provider == "Langchain" and ts.pipeline_name != "zero-shot-react-description"


def _conversation_warnings(lookup: _Lookup, case: TestCase, where: str) -> Iterator[str]:
    """A turn expecting a tool that no permutation offers (the group's tools, plus its backend's methods)."""
    tools = lookup.conversation_tools(case.backend or None)
    for t, turn in enumerate(case.turns or ()):
        for i, call in enumerate(turn.expected_calls or ()):
            if call.api not in tools and normalise_url(call.api) not in tools:
                nearest = difflib.get_close_matches(call.api, sorted(tools), n=1, cutoff=0.0)
                hint = f" (nearest: {nearest[0]})" if nearest else ""
                yield f"{where}: turns[{t}].expected_calls[{i}].api {call.api} is no tool the conversation offers{hint}"


def _case_warnings(plan: JobPlan, lookup: _Lookup, case: TestCase) -> Iterator[str]:
    where = f"test case {case.name!r}"
    if case.type == "conversation":
        yield from _conversation_warnings(lookup, case, where)
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
        yield from _call_warnings(lookup, where, fields, *spec, types=plan.request.matching_mode(case) != "bfcl")


def _call_warnings(lookup: _Lookup, where: str, fields: tuple[str, str, str, str], plugin_url: str, api: str,
                   method: str | None, parameters: Mapping | None, *, types: bool) -> Iterator[str]:
    """``types``: whether a value's type can be judged here; BFCL's checker has its own rules (Java and
    JavaScript values as source text, integers for floats), so in ``bfcl`` mode only BFCL judges them."""
    wanted = normalise_url(plugin_url)
    if wanted not in lookup.offered:
        yield (f"{where}: {fields[0]} {plugin_url} is in no plugin group of the permutations "
               f"that run it ({', '.join(sorted(lookup.groups))})")
    plugin = lookup.plugins.get(wanted)
    if plugin is None:
        return
    operation = lookup.operation(wanted, api, method)
    if operation is None:
        shown = f"{(method or '').upper()} {api}".strip()
        choices = {_label(op): op for op in plugin.operations}
        nearest = difflib.get_close_matches(shown, list(choices), n=1, cutoff=0.0)
        hint = f" (nearest: {nearest[0]})" if nearest else " (it has no operations)"
        yield f"{where}: {fields[1]} {shown} is no operation of {plugin.name}{hint}"
        return
    properties = operation.parameters.get("properties") or {}
    for name, value in (parameters or {}).items():
        if is_matcher(value) and value.get("$optional") is True:
            continue  # met by leaving the parameter out, whatever the operation has
        if name not in properties:
            known = ", ".join(properties) or "none"
            yield (f"{where}: {fields[2]} {name!r} is not a parameter of "
                   f"{_label(operation)} (it has: {known})")
        elif types and not fits_type(value, properties[name]):
            kind = properties[name].get("type") if isinstance(properties[name], Mapping) else None
            yield f"{where}: {fields[3]} {value!r} of parameter {name!r} cannot be of type {kind}"


def _label(operation: Operation) -> str:
    """``GET https://...`` for an HTTP operation, the tool name for an MCP or function tool."""
    return f"{operation.method} {operation.url}".strip()
