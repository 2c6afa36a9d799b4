"""match_score: token F1 between final_output and expected_response (see core/similarity.py)."""

from __future__ import annotations

import pytest

from permutate_nb.core.scoring.similarity import match_score, tokens


def test_missing_side_is_null() -> None:
    assert match_score(None, "x") is None
    assert match_score("x", None) is None


@pytest.mark.parametrize(("output", "expected", "score"), [
    ("Here are 5 T shirts", "here are 5 t-shirts", 1.0),          # case, punctuation
    ("shirts T 5 are here", "Here are 5 T shirts", 1.0),           # order does not matter
    ("nothing alike", "Here are 5 T shirts", 0.0),
    ("", "", 1.0),
    ("", "something", 0.0),
    ("Café ﬁne", "cafe fine", 0.5),                               # NFKC folds the ligature, not the accent
    ('{"name": "Basic T shirt", "price": "$12.00"}', "Basic T shirt for $12", 0.6667),
])
def test_token_f1(output: str, expected: str, score: float) -> None:
    assert match_score(output, expected) == score


def test_partial_overlap_is_harmonic_mean() -> None:
    # output 4 tokens, expected 2, overlap 2: precision 0.5, recall 1.0 -> F1 0.6667
    assert match_score("red shoes and socks", "red shoes") == 0.6667
    assert match_score("red red red", "red") == 0.5  # repeats count once per occurrence


def test_tokens_split_words_and_underscores() -> None:
    assert tokens("max_price: 1,000 USD!") == ["max", "price", "1", "000", "usd"]
