"""Parameter matching and steps a/b/c, exactly as the design guide's scoring semantics say."""

from __future__ import annotations

import pytest

from permutate_nb.core.scoring.matching import compare_parameters
from permutate_nb.core.scoring.steps import score_selection


def _equal(expected: object, actual: object) -> bool:
    return compare_parameters({"p": expected}, {"p": actual}).ok


@pytest.mark.parametrize(
    "expected, actual",
    [
        ("T shirt", "t  SHIRT "),
        (5, "5"),
        ("3", 3.0),
        (3, 3.0),
        (True, "true"),
        ("false", False),
        (True, " True"),
        ([1, "a"], ["1", "A"]),
        ({"a": {"b": 2}}, {"a": {"b": "2", "extra": 1}}),
        (None, None),
    ],
)
def test_values_equal_without_schema(expected: object, actual: object) -> None:
    assert _equal(expected, actual)


@pytest.mark.parametrize(
    "expected, actual",
    [
        ("T shirt", "T shirts"),
        (5, "five"),
        (5, 6),
        (True, "yes please"),
        (False, "no"),
        (1, True),
        ([1, 2], [2, 1]),
        ([1, 2], [1]),
        ({"a": 1}, {"b": 1}),
        ({"a": 1}, "a"),
        ("x", None),
        (1234567890, 1234567891),
        (1700000000, 1700000001),
        ("02134", "2134"),
        ("1.10", "1.1"),
        ("1e3", "1000"),
    ],
)
def test_values_differ_without_schema(expected: object, actual: object) -> None:
    assert not _equal(expected, actual)


def test_extras_are_ignored_in_lenient_mode() -> None:
    verdict = compare_parameters({"q": "shirt", "size": 5}, {"q": "Shirt", "size": "5", "max_price": 9})
    assert (verdict.matched, verdict.ok) == (2, True)
    verdict = compare_parameters({"q": "shirt", "size": 5}, {"q": "shirt"})
    assert verdict.matched == 1 and [m.to_dict() for m in verdict.mismatches] == [
        {"parameter": "size", "expected": 5, "actual": None, "reason": "missing"}]
    assert compare_parameters({"q": "shirt"}, None).matched == 0


def _score(**overrides: object):
    args = dict(
        test_type="api_signature_selector",
        expected_plugin="https://h/Klarna.json",
        expected_url="https://www.klarna.com/us/shopping/public/openai/v0/products",
        expected_method="get",
        expected_parameters={"q": "T shirt", "size": 5},
        plugin_id="https://h/Klarna.json",
        url="HTTPS://WWW.KLARNA.COM/us/shopping/public/openai/v0/products/",
        method="GET",
        arguments={"q": "t shirt", "size": "5"},
    )
    args.update(overrides)
    return score_selection(**args)  # type: ignore[arg-type]


def test_all_steps_pass_with_case_and_slash_differences() -> None:
    s = _score()
    assert (s.plugin_detected, s.operation_found, s.parameters_mapped, s.parameter_percentage, s.passed) == (
        True, True, True, 100.0, True)


def test_method_is_checked() -> None:
    s = _score(method="POST")
    assert s.plugin_detected and not s.operation_found and not s.parameters_mapped and not s.passed


def test_partial_parameters() -> None:
    s = _score(arguments={"q": "T shirt"})
    assert s.operation_found and not s.parameters_mapped and s.parameter_percentage == 50.0 and not s.passed


def test_step_c_needs_step_b() -> None:
    s = _score(url="https://www.klarna.com/other")
    assert not s.operation_found and not s.parameters_mapped and s.parameter_percentage == 100.0


def test_plugin_selector_ignores_parameters() -> None:
    s = _score(test_type="plugin_selector", expected_parameters=None, arguments=None)
    assert s.passed and s.parameter_percentage is None and not s.parameters_mapped


def test_wrong_plugin_fails_step_a_only() -> None:
    s = _score(plugin_id="https://h/Other.json")
    assert not s.plugin_detected and s.operation_found and not s.passed


def test_no_selection() -> None:
    s = _score(plugin_id=None, url=None, method=None, arguments=None)
    assert (s.plugin_detected, s.operation_found, s.parameters_mapped, s.parameter_percentage) == (False, False, False, 0.0)
