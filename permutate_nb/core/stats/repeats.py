"""Repeats of one test case: pass rate, pass@k, pass^k and flaky cases, from the detail rows.

A *cell* is one permutation x test case x language; with ``config.repeats`` = n it holds n
runs. pass@k and pass^k use the unbiased estimators in ``stats``; a summary's figures are
the means over its cells, for k = 1 up to the fewest repeats any cell has (a cancelled job
may leave cells short). A cell is *flaky* when some but not all of its repeats pass.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .exact import pass_at_k, pass_hat_k, wilson

if TYPE_CHECKING:
    from ..scoring.detail import RunDetail

__all__ = ["CELL_KEYS", "cells", "repeat_table", "flat_repeat_table", "flaky_cases", "pass_k_summary", "top_pass_hat_k"]

CELL_KEYS = ("permutation_name", "test_case_name", "language")


def cells(details: Iterable[RunDetail]) -> dict[tuple[str, str, str], tuple[int, int]]:
    """(repeats, passes) per permutation x test case x language, in first-seen order."""
    groups: dict[tuple[str, str, str], list[int]] = {}
    for row in details:
        counts = groups.setdefault((row.permutation_name, row.test_case_name, row.language), [0, 0])
        counts[0] += 1
        counts[1] += row.passed
    return {key: (n, c) for key, (n, c) in groups.items()}


def _pct(value: float) -> float:
    return round(value * 100, 2)


def repeat_table(source: Iterable[RunDetail] | Mapping[tuple[str, str, str], tuple[int, int]]) -> list[dict[str, Any]]:
    """One row per cell: repeats, passes, pass rate with its interval, pass@k and pass^k (percent).
    ``source`` is the detail rows, or their cells' counts as ``cells`` gives them."""
    counts = source if isinstance(source, Mapping) else cells(source)
    table = []
    for key, (n, c) in counts.items():
        table.append({
            **dict(zip(CELL_KEYS, key)),
            "repeats": n,
            "passes": c,
            "pass_rate": _pct(c / n),
            "pass_rate_ci": wilson(c, n),
            "pass_at_k": {str(k): _pct(pass_at_k(n, c, k)) for k in range(1, n + 1)},
            "pass_hat_k": {str(k): _pct(pass_hat_k(n, c, k)) for k in range(1, n + 1)},
            "flaky": 0 < c < n,
        })
    return table


def flat_repeat_table(table: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """``repeat_table`` rows as columns and values: the interval as ``_ci_low``/``_ci_high``, one column per k."""
    top = max((cell["repeats"] for cell in table), default=0)
    ks = range(1, top + 1)
    columns = [*CELL_KEYS, "repeats", "passes", "pass_rate", "pass_rate_ci_low", "pass_rate_ci_high",
               *(f"pass@{k}" for k in ks), *(f"pass^{k}" for k in ks), "flaky"]
    rows = [[*(c[key] for key in CELL_KEYS), c["repeats"], c["passes"], c["pass_rate"], *c["pass_rate_ci"],
             *(c["pass_at_k"].get(str(k)) for k in ks), *(c["pass_hat_k"].get(str(k)) for k in ks), c["flaky"]]
            for c in table]
    return columns, rows


def flaky_cases(groups: dict[tuple[str, str, str], tuple[int, int]]) -> list[dict[str, Any]]:
    """The cells (from ``cells``) where some but not all repeats passed: who, and how many of how many."""
    return [
        {**dict(zip(CELL_KEYS, key)), "passes": c, "repeats": n}
        for key, (n, c) in groups.items()
        if 0 < c < n
    ]


def pass_k_summary(cell_map: dict[tuple[str, str, str], tuple[int, int]]) -> dict[str, dict[str, float]]:
    """``pass_at_k`` and ``pass_hat_k`` of the cells (from ``cells``): per k, the mean of the estimates (percent)."""
    if not cell_map:
        return {"pass_at_k": {}, "pass_hat_k": {}}
    shapes = Counter(cell_map.values())  # few distinct (n, c)
    top = min(n for n, _ in shapes)
    mean = lambda f, k: _pct(sum(w * f(n, c, k) for (n, c), w in shapes.items()) / len(cell_map))  # noqa: E731
    return {
        "pass_at_k": {str(k): mean(pass_at_k, k) for k in range(1, top + 1)},
        "pass_hat_k": {str(k): mean(pass_hat_k, k) for k in range(1, top + 1)},
    }


def top_pass_hat_k(summary: Mapping[str, Any]) -> tuple[int, float] | None:
    """A summary's pass^k at the largest k it has (every repeat passes), or None with fewer than two repeats:
    what tables show beside the accuracy of conversation cases (tau-bench's reliability figure)."""
    figures = summary.get("pass_hat_k") or {}
    if not figures:
        return None
    k = max(int(key) for key in figures)
    return (k, figures[str(k)]) if k > 1 else None
