"""Deterministic metrics on known values, verdict parsing, confidence intervals."""

from __future__ import annotations

import pytest
import scipy.stats

from permutate_nb.core.jobs.evals.judge import parse_verdict
from permutate_nb.core.jobs.evals.metrics import exact_match, normalise_answer, resolve_metrics, rouge_l, token_f1
from permutate_nb.core.jobs.evals.results import mean_ci
from permutate_nb.errors import RequestError


def test_normalise_and_exact_match() -> None:
    assert normalise_answer("The  Eiffel Tower!") == "eiffel tower"
    assert exact_match("the Eiffel tower.", "Eiffel Tower") == 1.0
    assert exact_match("Eiffel", "Eiffel Tower") == 0.0


def test_token_f1_known_values() -> None:
    assert token_f1("Paris is the capital", "Paris") == pytest.approx(2 * (1 / 3) * 1 / (1 / 3 + 1))  # 0.5
    assert token_f1("x y z", "y z w") == pytest.approx(2 / 3)
    assert token_f1("a b c", "b c d") == pytest.approx(0.8)  # the article "a" does not count
    assert token_f1("x", "y") == 0.0 and token_f1("", "") == 1.0


def test_rouge_l_known_values() -> None:
    # LCS of "police killed the gunman" / "police kill the gunman" (after removing "the") = police, gunman -> 2
    assert rouge_l("police killed the gunman", "police kill the gunman") == pytest.approx(2 / 3)
    assert rouge_l("w x y z", "w y z") == pytest.approx(2 * (3 / 4) * 1 / (3 / 4 + 1))
    assert rouge_l("one two three", "one two three") == 1.0 and rouge_l("x", "y") == 0.0


@pytest.mark.parametrize("text, score", [('{"score": 0.7, "reasoning": "ok"}', 0.7),
                                         ('```json\n{"score": 1, "reasoning": "fine"}\n```', 1.0)])
def test_parse_verdict(text: str, score: float) -> None:
    assert parse_verdict(text)[0] == score


@pytest.mark.parametrize("text, message", [("", "answered nothing"), ("great answer", "not JSON"),
                                           ('{"reasoning": "x"}', "has no score"), ('{"score": 7}', "outside 0..1"),
                                           ('{"score": "high"}', "is not a number")])
def test_unreadable_verdicts(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_verdict(text)


def test_mean_ci() -> None:
    assert mean_ci([]) == (None, None, None)
    assert mean_ci([0.5]) == (0.5, None, None)
    mean, low, high = mean_ci([0.0, 1.0])
    assert mean == 0.5 and low == 0.0 and high == 1.0  # clipped to 0..1
    mean, low, high = mean_ci([0.4, 0.5, 0.6])
    t = scipy.stats.t.ppf(0.975, 2)  # 4.3027: the exact quantile, as stats.exact.mean_interval computes it
    assert mean == pytest.approx(0.5) and low == pytest.approx(0.5 - t * 0.1 / 3 ** 0.5, abs=1e-9)


def test_unknown_metric_lists_the_known_ones() -> None:
    with pytest.raises(RequestError, match="unknown metric 'bleu'; available: answer-correctness"):
        resolve_metrics("bleu")
