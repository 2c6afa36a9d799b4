"""Expectations that can never be met, found before any model is called (``permutate validate``).

A test case that names a plugin no permutation offers, an operation the plugin does not have,
or a parameter value of the wrong type fails every run; saying so up front saves a paid job.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from ..plugins.openapi import Operation
from ..request.locations import normalise_url
from ..request.models import TestCase
from ..scoring.matching import fits_type

if TYPE_CHECKING:
    from .permutate import JobPlan

__all__ = ["expectation_warnings"]


def expectation_warnings(plan: "JobPlan") -> list[str]:
    """One line per expectation that cannot be met, in test case order."""
    return [line for case in plan.request.test_cases for line in _case_warnings(plan, case)]


def _case_warnings(plan: "JobPlan", case: TestCase) -> Iterator[str]:
    where = f"test case {case.name!r}"
    wanted = normalise_url(case.expected_plugin_used)
    groups = {p.tool_selector.plugin_group_name for p in plan.request.permutations}
    offered = {normalise_url(ref.manifest_url) for g in plan.request.plugin_groups if g.name in groups for ref in g.plugins}
    if wanted not in offered:
        yield (f"{where}: expected_plugin_used {case.expected_plugin_used} is in no plugin group of the permutations "
               f"that run it ({', '.join(sorted(groups))})")
    plugin = next((p for p in plan.plugins.values() if normalise_url(p.id) == wanted), None)
    if plugin is None:
        return
    operation = _operation(plugin.operations, case)
    if operation is None:
        method = (case.expected_method or "").upper()
        shown = f"{method} {case.expected_api_used}".strip()
        choices = {f"{op.method} {op.url}": op for op in plugin.operations}
        nearest = difflib.get_close_matches(shown, list(choices), n=1, cutoff=0.0)
        hint = f" (nearest: {nearest[0]})" if nearest else " (it has no operations)"
        yield f"{where}: expected_api_used {shown} is no operation of {plugin.name}{hint}"
        return
    properties = operation.parameters.get("properties") or {}
    for name, value in (case.expected_parameters or {}).items():
        if name not in properties:
            known = ", ".join(properties) or "none"
            yield (f"{where}: expected parameter {name!r} is not a parameter of "
                   f"{operation.method} {operation.url} (it has: {known})")
        elif not fits_type(value, properties[name]):
            kind = properties[name].get("type") if isinstance(properties[name], Mapping) else None
            yield f"{where}: expected value {value!r} of parameter {name!r} cannot be of type {kind}"


def _operation(operations: list[Operation], case: TestCase) -> Operation | None:
    url = normalise_url(case.expected_api_used)
    method = (case.expected_method or "").strip().upper()
    return next((op for op in operations if normalise_url(op.url) == url and (not method or op.method == method)), None)
