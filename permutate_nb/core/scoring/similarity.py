"""``match_score``: how close a run's final output is to the test case's ``expected_response``.

The measure is the token F1 of extractive question answering (SQuAD): both texts are
Unicode-normalised (NFKC), case-folded and split into word tokens (letters and digits, so
punctuation and JSON syntax do not count); the overlap is the multiset intersection;
precision = overlap / output tokens, recall = overlap / expected tokens, F1 their harmonic
mean. It is 1.0 for the same words in any order, 0.0 for no word in common, cheap and
deterministic, and a long answer that buries the expected words is penalised by precision.
It is not semantic: "cheap" and "inexpensive" do not match.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

__all__ = ["match_score", "tokens", "f1"]

_WORD = re.compile(r"\w+")


def tokens(text: str) -> list[str]:
    """Word tokens, NFKC-normalised and case-folded (underscores split words)."""
    return [t for t in _WORD.findall(unicodedata.normalize("NFKC", text).casefold().replace("_", " ")) if t]


def match_score(output: str | None, expected: str | None) -> float | None:
    """Token F1 in [0, 1], rounded to 4 places; None when either text is missing."""
    if output is None or expected is None:
        return None
    return round(f1(tokens(output), tokens(expected)), 4)


def f1(answer: list[str], reference: list[str]) -> float:
    """Token F1: the harmonic mean of precision and recall of the multiset overlap (1.0 when both are empty)."""
    if not answer or not reference:
        return float(answer == reference)
    overlap = sum((Counter(answer) & Counter(reference)).values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(answer), overlap / len(reference)
    return 2 * precision * recall / (precision + recall)
