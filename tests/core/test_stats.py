"""core.stats against hand-worked values, known tables and scipy (a test-only dependency)."""

from __future__ import annotations

import math

import pytest

from permutate_nb.core.stats.exact import (
    holm,
    mcnemar_exact,
    mean_interval,
    paired_difference,
    pass_at_k,
    pass_hat_k,
    sign_test,
    t_quantile_975,
    wilson,
)


def test_wilson_hand_worked() -> None:
    # 5 of 8: p = .625, z^2 = 3.8415; centre (.625 + .2401) / 1.4802 = .5845, half 1.96 * .2105 / 1.4802 = .2787
    assert wilson(5, 8) == [30.57, 86.32]
    # 0 of 10: the upper limit is z^2/n / (1 + z^2/n) = .38415 / 1.38415 = .2775; never a point at 0%
    assert wilson(0, 10) == [0.0, 27.75]
    assert wilson(10, 10) == [72.25, 100.0]
    assert wilson(0, 0) is None


def test_wilson_matches_scipy() -> None:
    from scipy.stats import binomtest

    for n in (1, 2, 5, 8, 13, 40, 100):
        for k in range(n + 1):
            ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
            assert wilson(k, n) == pytest.approx([ci.low * 100, ci.high * 100], abs=0.006), (k, n)


def test_pass_at_k_and_pass_hat_k_hand_worked() -> None:
    # n = 5 repeats, c = 2 passes, k = 2: 1 - C(3,2)/C(5,2) = 1 - 3/10; C(2,2)/C(5,2) = 1/10
    assert pass_at_k(5, 2, 2) == pytest.approx(0.7)
    assert pass_hat_k(5, 2, 2) == pytest.approx(0.1)
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3) == pass_hat_k(10, 3, 1)  # k = 1 is the pass rate
    assert pass_at_k(4, 1, 4) == 1.0 and pass_hat_k(4, 3, 4) == 0.0
    assert pass_at_k(4, 0, 3) == 0.0 and pass_hat_k(4, 4, 3) == 1.0
    # 3 repeats, 1 pass, k = 2: pairs {12, 13, 23}; 2 contain the pass, none are both passes
    assert pass_at_k(3, 1, 2) == pytest.approx(2 / 3) and pass_hat_k(3, 1, 2) == 0.0
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)


@pytest.mark.parametrize(("b", "c", "p"), [
    (1, 9, 22 / 1024),      # 2 * (C(10,0) + C(10,1)) / 2^10
    (0, 5, 2 / 32),
    (2, 8, 112 / 1024),     # 2 * (1 + 10 + 45) / 1024
    (3, 3, 1.0),
    (0, 0, 1.0),
    (9, 1, 22 / 1024),
])
def test_mcnemar_exact_known_tables(b: int, c: int, p: float) -> None:
    assert mcnemar_exact(b, c) == pytest.approx(p)


def test_mcnemar_matches_scipy_binomtest() -> None:
    from scipy.stats import binomtest

    for b in range(0, 15):
        for c in range(0, 15):
            expected = binomtest(b, b + c, 0.5).pvalue if b + c else 1.0
            assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12), (b, c)


def test_sign_test_drops_ties() -> None:
    # 3 positive, 1 negative, one tie: 2 * (C(4,0) + C(4,1)) / 16
    assert sign_test([0.5, 0.2, 0.0, -0.1, 0.3]) == pytest.approx(10 / 16)
    assert sign_test([0.0, 0.0]) == 1.0


def test_holm_hand_worked() -> None:
    # sorted .01 * 3 = .03; .03 * 2 = .06; .04 * 1 = .04 -> kept monotone at .06
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == [1.0, 1.0] and holm([]) == []


def test_paired_difference_reduces_to_newcombe_unpaired_when_uncorrelated() -> None:
    # a*d == b*c makes phi 0: the interval is Newcombe's hybrid score interval from two Wilson intervals
    both, only_a, only_b, neither = 4, 2, 2, 1
    diff, (low, high) = paired_difference(both, only_a, only_b, neither)
    l1, u1 = (x / 100 for x in wilson(6, 9))
    l2, u2 = (x / 100 for x in wilson(6, 9))
    p = 6 / 9
    assert diff == 0.0
    assert low == pytest.approx(-math.hypot(p - l1, u2 - p) * 100, abs=0.01)
    assert high == pytest.approx(math.hypot(u1 - p, p - l2) * 100, abs=0.01)


def test_paired_difference_hand_worked_and_identical() -> None:
    diff, (low, high) = paired_difference(12, 9, 2, 21)  # A 21/44, B 14/44: +7/44 = 15.91 points
    assert diff == 15.91 and 0 < low < diff < high < 100
    assert (low, high) == (1.82, 28.92)
    assert paired_difference(5, 0, 0, 5) == (0.0, [0.0, 0.0])  # identical runs: no difference at all
    assert paired_difference(0, 0, 0, 0) is None


@pytest.mark.parametrize(("df", "t"), [(1, 12.706), (2, 4.303), (3, 3.182), (4, 2.776), (10, 2.228), (30, 2.042), (120, 1.980)])
def test_t_quantile_known_table(df: int, t: float) -> None:
    assert t_quantile_975(df) == pytest.approx(t, abs=5e-4)


def test_t_quantile_matches_scipy() -> None:
    from scipy.stats import t

    for df in range(1, 60):
        assert t_quantile_975(df) == pytest.approx(t.ppf(0.975, df), rel=1e-9), df


def test_mean_interval_hand_worked() -> None:
    # values 0, .5, 1: mean .5, sd .5, t(2) = 4.303: half-width 4.303 * .5 / sqrt(3) = 1.2421
    low, high = mean_interval([0.0, 0.5, 1.0])
    assert (low, high) == pytest.approx([0.5 - 1.24214, 0.5 + 1.24214], abs=1e-4)
    assert mean_interval([0.2, 0.2, 0.2]) == pytest.approx([0.2, 0.2])
    assert mean_interval([0.3]) is None


def test_readme_worked_example() -> None:
    """README "Reading the numbers": A 5 of 8 vs B 4 of 8, then the same rates over 80 cases."""
    assert (wilson(5, 8), wilson(4, 8)) == ([30.57, 86.32], [21.52, 78.48])
    # B - A: both pass 4, only B 0, only A 1, neither 3
    assert paired_difference(4, 0, 1, 3) == (-12.5, [-30.6, 8.04]) and mcnemar_exact(1, 0) == 1.0
    assert paired_difference(38, 2, 12, 28) == (-12.5, [-20.85, -3.72])
    assert mcnemar_exact(12, 2) == pytest.approx(0.0129, abs=1e-4)
