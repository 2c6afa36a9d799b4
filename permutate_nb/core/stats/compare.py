"""Paired comparisons: two permutations of one job, or the same permutations across two jobs.

Runs pair up by test case, language and repeat (and permutation, across jobs); only pairs
count, so both sides face the same cases. Every difference is *second minus first*
(``b - a``, candidate minus baseline) in accuracy points, negative meaning worse.

- One run per case and language: McNemar's exact test on the discordant pairs, and
  Newcombe's paired score interval for the difference.
- Repeats: each test case x language is one unit with a pass rate on each side; the
  p-value is the exact sign test of the per-unit differences (a sign test, not a
  bootstrap: exact and seed-free), the interval the t interval of their mean, and the
  difference their mean, clipped to [-100, 100] points.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from itertools import combinations
from typing import TYPE_CHECKING, Any

from ...errors import RequestError
from ..html_text import escape_html
from .exact import holm, mcnemar_exact, mean_interval, paired_difference, sign_test, wilson
from .units import format_p

if TYPE_CHECKING:
    import pandas as pd

    from ..scoring.detail import RunDetail

__all__ = ["PairedComparison", "JobComparison", "compare_rows", "compare_permutations", "pairwise",
           "compare_labelled", "format_ci", "comparison_frame", "comparison_records"]

MCNEMAR = "McNemar exact"
SIGN_TEST = "sign test over cases, t interval"
ALPHA = 0.05


def format_ci(value: float | None, ci: Sequence[float] | None, unit: str = "%") -> str:
    """``62.5% [30.6, 86.3]``: a figure and its 95% interval, as tables print it."""
    if value is None:
        return "-"
    text = f"{value:+.1f}" if unit == " pts" else f"{value:.1f}"
    return f"{text}{unit} [{ci[0]:.1f}, {ci[1]:.1f}]" if ci else f"{text}{unit}"


@dataclass(frozen=True, repr=False)
class PairedComparison:
    """``b`` against ``a`` over their paired runs; ``difference`` = accuracy of b - accuracy of a.

    Attributes:
        a: The first side's label (baseline): a permutation's name, or the baseline job's.
        b: The second side's label (candidate), compared against ``a``.
        pairs: Runs paired by test case, language and repeat; only these count.
        accuracy_a: Percentage of ``a``'s paired runs that passed.
        accuracy_a_ci: Its 95% Wilson interval, [low, high] in percent.
        accuracy_b: Percentage of ``b``'s paired runs that passed.
        accuracy_b_ci: Its 95% Wilson interval.
        difference: ``accuracy_b - accuracy_a`` in points (negative: ``b`` is worse).
        difference_ci: Its 95% interval in points; None with repeats on a single case.
        p_value: The exact test's two-sided p-value (``method`` names the test).
        method: ``McNemar exact`` (one run per case and language) or ``sign test over cases, t interval`` (repeats).
        better_a: Pairs (with repeats: case x language units) where only ``a`` passes, or passes more often.
        better_b: Likewise for ``b``.
        pass_to_fail: The runs that passed under ``a`` and failed under ``b``: test case, language, repeat.
        unpaired: Runs of either side with no partner on the other (not counted).
        p_adjusted: The Holm-adjusted p-value when part of several comparisons (``pairwise``), else None.
        tool_drift: How the tools offered to ``b`` differ from ``a``'s, one line each (empty: the same tools).
    """

    a: str
    b: str
    pairs: int  # paired runs
    accuracy_a: float
    accuracy_a_ci: list[float]
    accuracy_b: float
    accuracy_b_ci: list[float]
    difference: float  # points
    difference_ci: list[float] | None  # None with repeats on a single case
    p_value: float
    method: str
    better_a: int  # pairs (or, with repeats, units) where only a / a more often passes
    better_b: int
    pass_to_fail: list[dict[str, Any]] = field(default_factory=list)  # passed under a, failed under b
    unpaired: int = 0
    p_adjusted: float | None = None  # Holm, when part of several comparisons
    tool_drift: list[str] = field(default_factory=list)  # how the tools offered to b differ from a's

    @property
    def significant(self) -> bool:
        """p < 0.05, Holm-adjusted when compared among several pairs."""
        return (self.p_adjusted if self.p_adjusted is not None else self.p_value) < ALPHA

    def to_dict(self) -> dict[str, Any]:
        """Every field as plain data (JSON-ready)."""
        return asdict(self)

    def __str__(self) -> str:
        lines = [
            f"{self.b} vs {self.a}: {format_ci(self.accuracy_b, self.accuracy_b_ci)} vs "
            f"{format_ci(self.accuracy_a, self.accuracy_a_ci)} over {self.pairs} paired runs",
            f"difference {format_ci(self.difference, self.difference_ci, ' pts')}, p = {format_p(self.p_value)} ({self.method})"
            + (f", Holm-adjusted p = {format_p(self.p_adjusted)}" if self.p_adjusted is not None else ""),
        ]
        if self.pass_to_fail:
            lines.append(f"passed under {self.a}, failed under {self.b}: " + _run_list(self.pass_to_fail))
        lines += [f"tools differ (schema drift): {line}" for line in self.tool_drift]
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return f"<pre>{escape_html(str(self))}</pre>" + comparison_frame([self]).to_html(index=False)


def _run_label(run: dict[str, Any]) -> str:
    return f"{run['test_case_name']} ({run['language']}, repeat {run['repeat']})"


def _run_list(runs: list[dict[str, Any]], limit: int = 10) -> str:
    """The first ``limit`` runs by name, then how many more (a terminal line, not a dump)."""
    more = f", ... and {len(runs) - limit} more" if len(runs) > limit else ""
    return ", ".join(_run_label(r) for r in runs[:limit]) + more


def _key(row: RunDetail) -> tuple[str, str, int]:
    return row.test_case_name, row.language, row.repeat


def _pct(part: int, whole: int) -> float:
    return round(part / whole * 100, 2)


def compare_rows(rows_a: Iterable[RunDetail], rows_b: Iterable[RunDetail], a: str, b: str) -> PairedComparison:
    """Compare two sets of runs paired by test case, language and repeat (see the module doc)."""
    passed_a = {_key(r): r.passed for r in rows_a}
    passed_b = {_key(r): r.passed for r in rows_b}
    common = [k for k in passed_a if k in passed_b]
    if not common:
        raise RequestError(f"{a} and {b} share no runs (same test case, language and repeat) to compare")
    units: dict[tuple[str, str], list[tuple[bool, bool]]] = {}
    for k in common:
        units.setdefault(k[:2], []).append((passed_a[k], passed_b[k]))
    n, wins_a, wins_b = len(common), sum(passed_a[k] for k in common), sum(passed_b[k] for k in common)
    if max(len(pairs) for pairs in units.values()) == 1:
        only_a = sum(passed_a[k] and not passed_b[k] for k in common)
        only_b = sum(passed_b[k] and not passed_a[k] for k in common)
        both = wins_a - only_a
        difference, interval = paired_difference(both, only_b, only_a, n - both - only_a - only_b)  # type: ignore[misc]
        p_value, method, better_a, better_b = mcnemar_exact(only_a, only_b), MCNEMAR, only_a, only_b
    else:
        deltas = [sum(pb - pa for pa, pb in pairs) / len(pairs) for pairs in units.values()]
        bounds = mean_interval(deltas)
        difference = round(sum(deltas) / len(deltas) * 100, 2)
        interval = [round(max(-1.0, bounds[0]) * 100, 2), round(min(1.0, bounds[1]) * 100, 2)] if bounds else None
        p_value, method = sign_test(deltas), SIGN_TEST
        better_a, better_b = sum(d < 0 for d in deltas), sum(d > 0 for d in deltas)
    return PairedComparison(
        a=a, b=b, pairs=n,
        accuracy_a=_pct(wins_a, n), accuracy_a_ci=wilson(wins_a, n),  # type: ignore[arg-type]
        accuracy_b=_pct(wins_b, n), accuracy_b_ci=wilson(wins_b, n),  # type: ignore[arg-type]
        difference=difference, difference_ci=interval, p_value=p_value, method=method,
        better_a=better_a, better_b=better_b,
        pass_to_fail=[dict(zip(("test_case_name", "language", "repeat"), k)) for k in common if passed_a[k] and not passed_b[k]],
        unpaired=len(passed_a) + len(passed_b) - 2 * n,
    )


def _by_permutation(details: Iterable[RunDetail]) -> dict[str, list[RunDetail]]:
    groups: dict[str, list[RunDetail]] = {}
    for row in details:
        groups.setdefault(row.permutation_name, []).append(row)
    return groups


def compare_permutations(details: Iterable[RunDetail], a: str, b: str, *, tools: dict[str, Any] | None = None,
                         groups: dict[str, str] | None = None) -> PairedComparison:
    """Two permutations of one job (``JobResult.compare``); with the job's tool snapshot (``tools``) and
    each permutation's plugin group (``groups``), ``tool_drift`` says how their tools differ."""
    by_name = _by_permutation(details)
    for name in (a, b):
        if name not in by_name:
            raise RequestError(f"no permutation {name!r} in this job; it has {', '.join(map(repr, by_name)) or 'no runs'}")
    comparison = compare_rows(by_name[a], by_name[b], a, b)
    group_a, group_b = (groups or {}).get(a), (groups or {}).get(b)
    if tools and group_a and group_b and group_a != group_b:
        from ..plugins.tool_snapshot import drift

        comparison = replace(comparison, tool_drift=drift(tools, tools, {group_a: group_b}))
    return comparison


def pairwise(details: Iterable[RunDetail]) -> list[PairedComparison]:
    """Every pair of a job's permutations that share runs (in request order), with Holm-adjusted p-values."""
    groups = _by_permutation(details)
    keys = {name: {_key(r) for r in rows} for name, rows in groups.items()}
    results = [compare_rows(groups[a], groups[b], a, b) for a, b in combinations(groups, 2) if keys[a] & keys[b]]
    return [replace(r, p_adjusted=p) for r, p in zip(results, holm([r.p_value for r in results]))]


def comparison_records(comparisons: Iterable[PairedComparison]) -> list[dict[str, Any]]:
    """Flat rows of numbers (intervals as ``_ci_low``/``_ci_high``) for spreadsheets."""
    rows = []
    for c in comparisons:
        row: dict[str, Any] = {}
        for key, value in c.to_dict().items():
            if key.endswith("_ci"):
                row[f"{key}_low"], row[f"{key}_high"] = value or (None, None)
            elif key == "pass_to_fail":
                row[key] = ", ".join(_run_label(r) for r in value)
            elif key == "tool_drift":
                row[key] = "; ".join(value)
            else:
                row[key] = value
        rows.append(row)
    return rows


def comparison_frame(comparisons: Iterable[PairedComparison]) -> pd.DataFrame:
    """One row per comparison, intervals printed as ``62.5% [30.6, 86.3]``."""
    import pandas as pd

    rows = []
    for c in comparisons:
        rows.append({
            "a": c.a, "b": c.b, "pairs": c.pairs,
            "accuracy a": format_ci(c.accuracy_a, c.accuracy_a_ci), "accuracy b": format_ci(c.accuracy_b, c.accuracy_b_ci),
            "difference (b - a)": format_ci(c.difference, c.difference_ci, " pts"),
            "p": format_p(c.p_value), **({"p (Holm)": format_p(c.p_adjusted)} if c.p_adjusted is not None else {}),
            "pass -> fail": len(c.pass_to_fail), "method": c.method,
        })
    return pd.DataFrame(rows)


@dataclass(frozen=True, repr=False)
class JobComparison:
    """Candidate job against baseline job, one PairedComparison per permutation both ran.

    Attributes:
        baseline: The baseline job's label (the ``a`` side of every comparison).
        candidate: The candidate job's label (the ``b`` side).
        permutations: Each permutation both jobs ran, by name, with its comparison.
        missing: Permutations only one of the jobs ran (not compared).
        tool_drift: How the candidate's tools differ from the baseline's, one line each.
    """

    baseline: str
    candidate: str
    permutations: dict[str, PairedComparison]
    missing: list[str]  # permutations only one job ran
    tool_drift: list[str] = field(default_factory=list)  # how the candidate's tools differ from the baseline's

    def worse(self, points: float = 0.0) -> list[str]:
        """Permutations significantly worse (p < 0.05) by more than ``points``."""
        return [name for name, c in self.permutations.items() if c.p_value < ALPHA and c.difference < -points]

    def to_frame(self) -> pd.DataFrame:
        """One row per permutation: baseline, candidate, their difference with its interval, p-value, runs that
        went from pass to fail."""
        frame = comparison_frame(self.permutations.values()).drop(columns=["a", "b"])
        frame = frame.rename(columns={"accuracy a": "baseline", "accuracy b": "candidate",
                                      "difference (b - a)": "candidate - baseline"})
        frame.insert(0, "permutation", list(self.permutations))
        return frame

    def _notes(self) -> list[str]:
        lines = [f"{name}: pass -> fail: " + _run_list(c.pass_to_fail)
                 for name, c in self.permutations.items() if c.pass_to_fail]
        lines += ["not in both jobs: " + ", ".join(self.missing)] if self.missing else []
        return lines + [f"tools differ (schema drift; an accuracy change may come from it): {line}" for line in self.tool_drift]

    def __str__(self) -> str:
        header = f"baseline {self.baseline} → candidate {self.candidate}"
        return "\n".join([header, self.to_frame().to_string(index=False), *self._notes()])

    __repr__ = __str__

    def _repr_html_(self) -> str:
        notes = "".join(f"<li>{escape_html(line)}</li>" for line in self._notes())
        return (f"<p>baseline {escape_html(self.baseline)} &rarr; candidate {escape_html(self.candidate)}</p>"
                + self.to_frame().to_html(index=False) + (f"<ul>{notes}</ul>" if notes else ""))


def compare_labelled(base_label: str, base_rows: Iterable[RunDetail], cand_label: str,
                     cand_rows: Iterable[RunDetail], base_tools: dict[str, Any] | None = None,
                     cand_tools: dict[str, Any] | None = None) -> JobComparison:
    """Candidate against baseline, per permutation, runs matched by test case, language and repeat;
    with both jobs' tool snapshots, how the tools offered differ (schema drift)."""
    from ..plugins.tool_snapshot import drift

    before, after = _by_permutation(base_rows), _by_permutation(cand_rows)
    shared = [name for name in before if name in after]
    if not shared:
        raise RequestError(f"{base_label} and {cand_label} have no permutation in common")
    return JobComparison(
        baseline=base_label, candidate=cand_label,
        permutations={name: compare_rows(before[name], after[name], base_label, cand_label) for name in shared},
        missing=[name for name in {**before, **after} if name not in shared],
        tool_drift=drift(base_tools, cand_tools),
    )
