"""``$regex`` matchers stop at their time limit instead of backtracking for minutes."""

from __future__ import annotations

import pytest

from permutate_nb.core.scoring.matching import compare_parameters, matcher_problems
from permutate_nb.core.scoring.regex_limits import RegexTimeout, full_match


def test_a_catastrophic_pattern_raises_regex_timeout() -> None:
    with pytest.raises(RegexTimeout, match="regex timeout"):
        full_match("(a|aa)+$", "a" * 40 + "!")


def test_a_pattern_that_timed_out_fails_at_once_the_next_time() -> None:
    with pytest.raises(RegexTimeout):
        full_match("(b|bb)+$", "b" * 40 + "!")
    with pytest.raises(RegexTimeout):
        full_match("(b|bb)+$", "b")  # would match, but the pattern has shown it can stall a job


def test_the_issue_pattern_answers_and_ordinary_patterns_still_match() -> None:
    assert not full_match("(a+)+$", "a" * 34 + "!")
    assert full_match(r"SKU-\d+", "SKU-123") and not full_match(r"SKU-\d+", "SKU-123x")


def test_compare_parameters_lets_the_timeout_through() -> None:
    with pytest.raises(RegexTimeout):
        compare_parameters({"q": {"$regex": "(c|cc)+$"}}, {"q": "c" * 40 + "!"})


def test_invalid_patterns_are_still_named() -> None:
    assert list(matcher_problems({"$regex": "("}, "name"))[0].startswith("name.$regex: invalid regular expression")
