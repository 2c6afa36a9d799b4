"""Small exact statistics for pass/fail counts: intervals, pass@k, paired tests, Holm.

Pure functions on integers, so every figure is checkable by hand and the runtime needs
no scipy. Percentages are 0-100 like every accuracy in a summary.

- ``wilson``: the 95% Wilson score interval of k passes in n runs (sound at small n and at
  0% or 100%, where the textbook ``p +- 1.96 se`` interval collapses to a point).
- ``pass_at_k`` / ``pass_hat_k``: unbiased estimators from n repeats with c passes of
  "at least one of k tries passes" (HumanEval) and "all k tries pass" (its complement form).
- ``mcnemar_exact``: the exact two-sided McNemar test on the discordant pairs, which is the
  exact sign test; ``sign_test`` names it for signed differences.
- ``paired_difference``: difference of two paired proportions with Newcombe's hybrid score
  interval (his method 10), built from the two Wilson intervals and the pairs' correlation.
- ``mean_interval``: the t interval of a mean over cases (Student's t quantile computed exactly).
- ``holm``: Holm's step-down adjustment of several p-values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = [
    "Z95", "wilson", "pass_at_k", "pass_hat_k", "binomial_two_sided", "mcnemar_exact", "sign_test",
    "paired_difference", "mean_interval", "t_quantile_975", "holm",
]

Z95 = 1.959963984540054  # the 97.5% normal quantile


def _wilson_fraction(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    p = k / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def wilson(k: int, n: int, z: float = Z95) -> list[float] | None:
    """The Wilson score interval of k successes in n trials as ``[low, high]`` in percent (2 decimals)."""
    if not n:
        return None
    low, high = _wilson_fraction(k, n, z)
    return [round(low * 100, 2), round(high * 100, 2)]


def pass_at_k(n: int, c: int, k: int) -> float:
    """P(at least one of k repeats drawn from the n passes): 1 - C(n-c, k) / C(n, k)."""
    if not 0 < k <= n:
        raise ValueError(f"pass@k needs 0 < k <= n, got k={k}, n={n}")
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """P(all of k repeats drawn from the n pass), pass^k: C(c, k) / C(n, k)."""
    if not 0 < k <= n:
        raise ValueError(f"pass^k needs 0 < k <= n, got k={k}, n={n}")
    return math.comb(c, k) / math.comb(n, k)


def binomial_two_sided(k: int, n: int) -> float:
    """Exact two-sided p-value of k successes in n fair coin flips (doubling the smaller tail)."""
    if not n:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(k, n - k) + 1)) / 2**n
    return min(1.0, 2 * tail)


def mcnemar_exact(b: int, c: int) -> float:
    """McNemar's exact test: b pairs pass only under A, c only under B; two-sided p-value."""
    return binomial_two_sided(b, b + c)


def sign_test(differences: Sequence[float]) -> float:
    """Exact two-sided sign test of paired differences; ties (zeros) are dropped."""
    positive = sum(d > 0 for d in differences)
    negative = sum(d < 0 for d in differences)
    return binomial_two_sided(positive, positive + negative)


def paired_difference(both: int, only_a: int, only_b: int, neither: int) -> tuple[float, list[float]] | None:
    """Accuracy of A minus accuracy of B over paired runs, in points, with Newcombe's 95% interval."""
    n = both + only_a + only_b + neither
    if not n:
        return None
    p1, p2 = (both + only_a) / n, (both + only_b) / n
    l1, u1 = _wilson_fraction(both + only_a, n)
    l2, u2 = _wilson_fraction(both + only_b, n)
    margins = (both + only_a) * (only_b + neither) * (both + only_b) * (only_a + neither)
    phi = (both * neither - only_a * only_b) / math.sqrt(margins) if margins else 0.0
    diff = p1 - p2
    below = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    above = math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return round(diff * 100, 2), [round(max(-1.0, diff - below) * 100, 2), round(min(1.0, diff + above) * 100, 2)]


def _t_two_sided_mass(t: float, df: int) -> float:
    """P(|T| < t) for Student's t with integer ``df`` (the closed-form finite series)."""
    theta = math.atan(t / math.sqrt(df))
    c2, term, total = math.cos(theta) ** 2, 1.0, 1.0
    if df % 2:  # odd: (2/pi) (theta + sin cos (1 + 2/3 cos^2 + 2*4/(3*5) cos^4 + ...))
        for i in range(1, (df - 1) // 2):
            term *= c2 * (2 * i) / (2 * i + 1)
            total += term
        return 2 / math.pi * (theta + (math.sin(theta) * math.cos(theta) * total if df > 1 else 0.0))
    for i in range(1, df // 2):  # even: sin (1 + 1/2 cos^2 + 1*3/(2*4) cos^4 + ...)
        term *= c2 * (2 * i - 1) / (2 * i)
        total += term
    return math.sin(theta) * total


def t_quantile_975(df: int) -> float:
    """The 97.5% quantile of Student's t (12.706 at 1 degree of freedom, 1.96 in the limit), by bisection."""
    low, high = 0.0, 1000.0
    for _ in range(100):
        mid = (low + high) / 2
        low, high = (mid, high) if _t_two_sided_mass(mid, df) < 0.95 else (low, mid)
    return (low + high) / 2


def mean_interval(values: Sequence[float]) -> list[float] | None:
    """95% t interval of the mean of ``values`` (one per case); None below two values."""
    n = len(values)
    if n < 2:
        return None
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = t_quantile_975(n - 1) * sd / math.sqrt(n)
    return [mean - half, mean + half]


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the input's order (monotone, capped at 1)."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    adjusted = [0.0] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted
