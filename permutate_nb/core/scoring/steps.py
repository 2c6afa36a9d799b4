"""Scoring: pure functions from a selection and a test case to steps a, b and c.

The semantics are fixed by the design guide ("Scoring semantics"): step a is the right
plugin, step b the right operation URL *and* method, step c (api_signature_selector only)
step b plus every expected parameter matched. How parameter values compare (by the
operation's schema, with matchers, in the ``lenient``/``strict``/``bfcl`` modes) lives in
``matching``; this module only combines the steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..request.locations import normalise_url
from .matching import Mismatch, compare_parameters

__all__ = ["StepScores", "score_selection"]


@dataclass(frozen=True, slots=True)
class StepScores:
    """One selection's score: steps a (plugin), b (operation) and c (parameters), the percentage, the mismatches."""

    plugin_detected: bool
    operation_found: bool
    parameters_mapped: bool
    parameter_percentage: float | None  # None where the test case expects no parameters
    passed: bool
    mismatches: tuple[Mismatch, ...] = ()


def score_selection(
    *,
    test_type: str,
    expected_plugin: str,
    expected_url: str,
    expected_method: str | None,
    expected_parameters: Mapping[str, Any] | None,
    plugin_id: str | None,
    url: str | None,
    method: str | None,
    arguments: Mapping[str, Any] | None,
    mode: str = "lenient",
    schema: Mapping[str, Any] | None = None,
    locations: Mapping[str, str] | None = None,
    language: str = "python",
) -> StepScores:
    """Score one completed run. A failed run is scored by the engine as all-false."""
    plugin_ok = plugin_id is not None and normalise_url(plugin_id) == normalise_url(expected_plugin)
    operation_ok = (
        url is not None
        and normalise_url(url) == normalise_url(expected_url)
        and (not expected_method or (method or "").lower() == expected_method.strip().lower())
    )
    percentage: float | None = None
    params_ok = False
    mismatches: tuple[Mismatch, ...] = ()
    if expected_parameters is not None:  # {}: a function without parameters, called with none
        verdict = compare_parameters(expected_parameters, arguments, mode=mode, schema=schema, locations=locations,
                                     language=language)
        percentage, mismatches = verdict.percentage, verdict.mismatches
        params_ok = operation_ok and verdict.ok
    if test_type == "api_signature_selector":
        passed = plugin_ok and operation_ok and params_ok
    else:
        passed = plugin_ok and operation_ok
    return StepScores(plugin_ok, operation_ok, params_ok, percentage, passed, mismatches)
