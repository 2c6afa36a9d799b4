"""A job's summary figures kept as rows arrive, so a job never needs all its rows in memory.

``Tally`` holds the counters and sums behind one summary; ``Tallies`` keeps one per repeat
cell (permutation x test case x language), the finest grouping, and merges them into the
overall summary and those per permutation, language or test case when asked (pass@k and the
flaky cases come from the cells' runs and passes). ``summarise`` in ``core.results`` is a ``Tallies`` over a list
of rows, so a summary kept while a job runs and one recomputed from the stored rows are the
same figures: float sums are exact (Shewchuk's partials, as ``math.fsum``), so the order in
which rows finish cannot change a rounded total.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..scoring.matching import REASONS as MISMATCH_REASONS
from .exact import wilson
from .repeats import CELL_KEYS, flaky_cases, pass_k_summary

if TYPE_CHECKING:
    from ..scoring.detail import RunDetail

__all__ = ["Tally", "Tallies", "GROUP_KEYS"]

#: The fields a result summarises by as rows arrive (``summary_by``); others are computed from the rows.
GROUP_KEYS = ("permutation_name", "language", "test_case_name")
_FIRST = 1 << 62  # "no row yet": larger than any unit index


def _add_exact(partials: list[float], x: float) -> None:
    """Add ``x`` to the exact sum held as non-overlapping ``partials`` (``math.fsum`` of them is the sum)."""
    i = 0
    for y in partials:
        if abs(x) < abs(y):
            x, y = y, x
        hi = x + y
        lo = y - (hi - x)
        if lo:
            partials[i] = lo
            i += 1
        x = hi
    partials[i:] = [x]


def _pct(part: int, whole: int) -> float | None:
    return round(part / whole * 100.0, 2) if whole else None


class Tally:
    """The counters and exact sums of one set of rows; ``first`` is the smallest unit index seen (its order)."""

    __slots__ = ("runs", "failed", "passed", "step_a", "step_b", "step_c", "c_cases", "tokens", "cached",
                 "response", "cost", "cost_unknown", "score", "scored", "reasons", "first", "conversations", "turns",
                 "turns_passed")

    def __init__(self) -> None:
        self.runs = self.failed = self.passed = self.step_a = self.step_b = self.step_c = self.c_cases = 0
        self.tokens = self.cached = self.scored = self.cost_unknown = 0
        self.conversations = self.turns = self.turns_passed = 0  # conversation cases: runs, turns, turns passed
        self.response: list[float] = []
        self.cost: list[float] = []
        self.score: list[float] = []
        self.reasons: dict[str, int] | None = None  # mismatch reason -> count, once there is one
        self.first = _FIRST

    def add(self, row: RunDetail, index: int) -> None:
        """Count one finished run (``index`` its matrix index, for the cell's order)."""
        self.runs += 1
        if index < self.first:
            self.first = index
        if not row.is_run_completed:
            self.failed += 1
        self.passed += row.passed
        self.step_a += row.is_plugin_detected
        self.step_b += row.is_plugin_operation_found
        if row.test_type == "api_signature_selector":
            self.c_cases += 1
            self.step_c += row.is_plugin_parameter_mapped
        self.tokens += row.total_llm_tokens_used
        self.cached += row.cached
        _add_exact(self.response, row.response_time_sec)
        if row.llm_api_cost is None:
            self.cost_unknown += 1
        else:
            _add_exact(self.cost, row.llm_api_cost)
        if row.match_score is not None:
            self.scored += 1
            _add_exact(self.score, row.match_score)
        if row.test_type == "conversation":
            self.conversations += 1
            self.turns += len(row.turns or ())
            self.turns_passed += sum(bool(turn.get("verdict")) for turn in row.turns or ())
        if row.parameter_mismatches:
            reasons = self.reasons
            if reasons is None:
                reasons = self.reasons = dict.fromkeys(MISMATCH_REASONS, 0)
            for mismatch in row.parameter_mismatches:
                reasons[mismatch["reason"]] += 1

    def merge(self, other: Tally) -> None:
        """Add ``other``'s rows to this one (exactly: the sums' partials are added one by one)."""
        for name in ("runs", "failed", "passed", "step_a", "step_b", "step_c", "c_cases", "tokens", "cached",
                     "cost_unknown", "scored", "conversations", "turns", "turns_passed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for mine, theirs in ((self.response, other.response), (self.cost, other.cost), (self.score, other.score)):
            for x in theirs:
                _add_exact(mine, x)
        if other.reasons:
            reasons = self.reasons = self.reasons or dict.fromkeys(MISMATCH_REASONS, 0)
            for reason, count in other.reasons.items():
                reasons[reason] += count
        self.first = min(self.first, other.first)

    def summary(self, cells: list[tuple[tuple[str, str, str], Tally]], total_run_time: float | None = None) -> dict[str, Any]:
        """The start-job summary of these rows, whose repeat ``cells`` (in order) they are.

        ``total_run_time`` is the job's wall-clock time for the overall summary; for a subset
        (one permutation, one language) it is the sum of the rows' response times.
        """
        n = self.runs
        languages = sorted({key[2] for key, _ in cells})
        response_total = math.fsum(self.response)
        cell_map = {key: (cell.runs, cell.passed) for key, cell in cells}
        reasons = self.reasons or dict.fromkeys(MISMATCH_REASONS, 0)
        return {
            "total_test_cases": n,
            "failed_cases": self.failed,  # errored runs (no verdict); kept under the document's name
            "language": languages[0] if len(languages) == 1 else ", ".join(languages),
            "overall_accuracy": _pct(self.passed, n),
            "accuracy_step_a": _pct(self.step_a, n),
            "accuracy_step_b": _pct(self.step_b, n),
            "accuracy_step_c": _pct(self.step_c, self.c_cases),
            "total_run_time": round(total_run_time if total_run_time is not None else response_total, 3),
            "average_response_time_sec": round(response_total / n, 3) if n else None,
            "total_llm_tokens_used": self.tokens,
            "average_llm_tokens_used": self.tokens // n if n else None,  # an integer, as in the start-job document
            "total_llm_api_cost": None if self.cost_unknown else round(math.fsum(self.cost), 6),
            # the document's fields come first, in its order; the counts behind them follow
            "wrong_cases": n - self.passed - self.failed,  # answered, verdict no
            "errored_cases": self.failed,  # no verdict: a timeout, an HTTP error, an unreadable reply
            "passed_cases": self.passed,
            "step_a_passed": self.step_a,
            "step_b_passed": self.step_b,
            "step_c_passed": self.step_c,
            "step_c_cases": self.c_cases,
            "cached_runs": self.cached,
            "average_match_score": round(math.fsum(self.score) / self.scored, 4) if self.scored else None,
            "match_scored_runs": self.scored,
            "overall_accuracy_ci": wilson(self.passed, n),
            "accuracy_step_a_ci": wilson(self.step_a, n),
            "accuracy_step_b_ci": wilson(self.step_b, n),
            "accuracy_step_c_ci": wilson(self.step_c, self.c_cases),
            "conversation_runs": self.conversations,
            "conversation_turns": self.turns,
            "conversation_turns_passed": self.turns_passed,
            "turn_accuracy": _pct(self.turns_passed, self.turns),
            **pass_k_summary(cell_map),
            "flaky_cases": flaky_cases(cell_map),
            **{f"parameter_mismatches_{reason}": count for reason, count in reasons.items()},
        }


Cell = tuple[tuple[str, str, str], Tally]


def _merged(cells: list[Cell]) -> Tally:
    total = Tally()
    for _, cell in cells:
        total.merge(cell)
    return total


class Tallies:
    """A job's summaries as its rows arrive: one ``Tally`` per repeat cell (permutation x test case x
    language), merged into the overall summary and the summaries per ``GROUP_KEYS`` value when asked.

    One tally per row (its cell's) keeps the per-row cost low; every grouping is a union of cells.
    Groups and cells come out in unit order (by the first unit index each has), as they would
    from the rows in matrix order, whatever order the rows finished in. ``first_failure`` is
    the error of the failed run with the smallest index. ``rows``, when given (a job without a
    store), also keeps every row in its place.
    """

    __slots__ = ("cells", "runs", "failed", "first_failure", "rows")

    def __init__(self, rows: list[RunDetail | None] | None = None) -> None:
        self.cells: dict[tuple[str, str, str], Tally] = {}
        self.runs = self.failed = 0
        self.first_failure: tuple[int, str | None] | None = None
        self.rows = rows

    @classmethod
    def of(cls, rows: Iterable[RunDetail]) -> Tallies:
        """Tallies of finished rows given in matrix order (a stored job's rows, read back)."""
        tallies = cls()
        for index, row in enumerate(rows):
            tallies.add(index, row)
        return tallies

    def add(self, index: int, row: RunDetail) -> None:
        """Count row ``index`` in its (permutation, test case, language) cell, and keep it when ``rows`` is kept."""
        key = (row.permutation_name, row.test_case_name, row.language)
        cell = self.cells.get(key)
        if cell is None:
            cell = self.cells[key] = Tally()
        cell.add(row, index)
        self.runs += 1
        if not row.is_run_completed:
            self.failed += 1
            if self.first_failure is None or index < self.first_failure[0]:
                self.first_failure = (index, row.error)
        if self.rows is not None:
            self.rows[index] = row

    def __len__(self) -> int:
        return self.runs

    def ordered_cells(self) -> list[Cell]:
        """The cells in matrix order (by each cell's first run), however the runs finished."""
        return sorted(self.cells.items(), key=lambda item: item[1].first)

    def summary(self, total_run_time: float | None = None) -> dict[str, Any]:
        """The job's summary over every cell, ``total_run_time`` its wall time when known."""
        cells = self.ordered_cells()
        return _merged(cells).summary(cells, total_run_time)

    def names(self, key: str) -> list[str]:
        """The values of ``key`` (one of ``GROUP_KEYS``) in unit order."""
        return list(self._groups(key))

    def _groups(self, key: str) -> dict[str, list[Cell]]:
        position = CELL_KEYS.index(key)
        groups: dict[str, list[Cell]] = {}
        for item in self.ordered_cells():
            groups.setdefault(item[0][position], []).append(item)
        return groups

    def summary_by(self, key: str) -> dict[str, dict[str, Any]]:
        """Summaries per value of ``key`` (one of ``GROUP_KEYS``), in unit order."""
        return {name: _merged(cells).summary(cells) for name, cells in self._groups(key).items()}
