"""One way to write a percentage and a p-value, for every face (card, tables, CLI, comparisons).

Accuracies and rates are percentages 0-100 everywhere in the data; on screen they are written
with one decimal and a ``%`` (``62.5%``), and XLSX stores them as fractions with a ``%`` format,
so a spreadsheet shows the same number. A p-value is written with three decimals, or ``<0.001``.
"""

from __future__ import annotations

__all__ = ["format_pct", "format_p"]


def format_pct(value: float | None) -> str:
    """``62.5%`` (a percentage 0-100); ``–`` for none."""
    return "–" if value is None else f"{value:.1f}%"


def format_p(p: float | None) -> str:
    """``0.032``, ``<0.001``; ``–`` for none."""
    if p is None:
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"
