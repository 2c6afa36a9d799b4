"""One way to write a percentage and a p-value, for every face (card, tables, CLI, comparisons).

Accuracies and rates are percentages 0-100 everywhere in the data; on screen they are written
with one decimal and a ``%`` (``62.5%``), and XLSX stores them as fractions with a ``%`` format,
so a spreadsheet shows the same number. A p-value is written with three decimals, or ``<0.001``.
A count is written with its noun in the right number (``1 run``, ``2 runs``).
"""

from __future__ import annotations

__all__ = ["format_pct", "format_p", "counted", "matrix_line"]


def format_pct(value: float | None) -> str:
    """``62.5%`` (a percentage 0-100); ``–`` for none."""
    return "–" if value is None else f"{value:.1f}%"


def format_p(p: float | None) -> str:
    """``0.032``, ``<0.001``; ``–`` for none."""
    if p is None:
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def counted(n: int, noun: str) -> str:
    """``1 run``, ``1,200 runs``: the noun singular for one (nouns here take a plain ``s``)."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def matrix_line(permutations: int, cases: int, languages: int, repeats: int, total: int) -> str:
    """``2 permutations x 3 test cases x 1 language x 1 repeat = 6 runs``: the size of a job, as every face writes it."""
    return " x ".join([counted(permutations, "permutation"), counted(cases, "test case"), counted(languages, "language"),
                       counted(repeats, "repeat")]) + f" = {counted(total, 'run')}"
