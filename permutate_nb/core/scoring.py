"""Scoring: pure functions from a selection and a test case to steps a, b and c.

The semantics are fixed by the design guide ("Scoring semantics"): step a is the right
plugin, step b the right operation URL *and* method, step c (api_signature_selector only)
step b plus every expected parameter present with an equal value. Values compare the
way a person reading them would: ``"3" == 3 == 3.0``, ``"true" == True``, strings
case- and whitespace-insensitive, lists in order, objects recursively.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Mapping

from .locations import normalise_url

__all__ = ["StepScores", "score_selection", "values_equal", "match_parameters"]

_SPACES = re.compile(r"\s+")
_TRUE, _FALSE = {"true", "yes"}, {"false", "no"}


@dataclass(frozen=True, slots=True)
class StepScores:
    plugin_detected: bool
    operation_found: bool
    parameters_mapped: bool
    parameter_percentage: float | None  # None where the test case expects no parameters
    passed: bool


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    return None


def _norm_text(value: str) -> str:
    return _SPACES.sub(" ", value.strip()).casefold()


def values_equal(expected: Any, actual: Any) -> bool:
    """Equality of an expected parameter value and the model's value (see module doc)."""
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, bool) or isinstance(actual, bool):
        return _as_bool(expected) is not None and _as_bool(expected) == _as_bool(actual)
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(
            key in actual and values_equal(value, actual[key]) for key, value in expected.items()
        )
    if isinstance(expected, (list, tuple)):
        return (
            isinstance(actual, (list, tuple))
            and len(expected) == len(actual)
            and all(values_equal(e, a) for e, a in zip(expected, actual))
        )
    exp_num, act_num = _as_number(expected), _as_number(actual)
    if exp_num is not None and act_num is not None:
        return math.isclose(exp_num, act_num, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(expected, str) and isinstance(actual, str):
        return _norm_text(expected) == _norm_text(actual)
    return False


def match_parameters(expected: Mapping[str, Any], actual: Mapping[str, Any] | None) -> int:
    """How many expected parameters the model supplied with an equal value (extras ignored)."""
    if not actual:
        return 0
    return sum(1 for key, value in expected.items() if key in actual and values_equal(value, actual[key]))


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
    if expected_parameters:
        matched = match_parameters(expected_parameters, arguments)
        percentage = matched / len(expected_parameters) * 100.0
        params_ok = operation_ok and matched == len(expected_parameters)
    if test_type == "api_signature_selector":
        passed = plugin_ok and operation_ok and params_ok
    else:
        passed = plugin_ok and operation_ok
    return StepScores(plugin_ok, operation_ok, params_ok, percentage, passed)
