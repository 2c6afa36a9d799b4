"""Job results in the start-job response shape, with summaries recomputable from the rows.

Every figure in a summary is derived here from the detail rows and nothing else (apart
from ``total_run_time``, the job's wall-clock time), so a reader can check it. Failed runs
stay in every denominator: an error is a miss, never a row dropped from an average.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from .matching import REASONS as MISMATCH_REASONS
from .repeats import cells, flaky_cases, pass_k_summary
from .result_base import Result
from .stats import wilson

if TYPE_CHECKING:  # pandas is imported on first use: it costs ~0.3 s at start-up
    import pandas as pd

    from .compare import PairedComparison

__all__ = ["RunDetail", "JobResult", "summarise"]


@dataclass(slots=True)
class RunDetail:
    """One run: a permutation x test case x language x repeat. Field order follows the docs."""

    permutation_name: str
    permutation_summary: str
    test_type: str
    test_case_name: str
    is_run_completed: bool
    language: str
    prompt: str
    final_output: str | None = None
    match_score: float | None = None
    is_plugin_detected: bool = False
    is_plugin_operation_found: bool = False
    is_plugin_parameter_mapped: bool = False
    plugin_name: str | None = None
    plugin_operation: str | None = None
    plugin_parameters_mapped: dict[str, Any] | None = None
    parameter_mapped_percentage: float | None = None
    response_time_sec: float = 0.0
    total_llm_tokens_used: int = 0
    llm_api_cost: float | None = None
    # ours, beyond the docs' shape
    repeat: int = 0
    plugin_method: str | None = None
    passed: bool = False
    cached: bool = False
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None
    raw_response: str | None = None
    intermediate_steps: list[dict[str, Any]] | None = None  # an agent's steps: tool, tool_input, log, observation
    operation_status: int | None = None  # HTTP status of the executed operation (config.execute_operations)
    parameter_mismatches: list[dict[str, Any]] | None = None  # step c's failed comparisons: parameter, expected, actual, reason

    def to_dict(self) -> dict[str, Any]:
        # a shallow copy per field: dataclasses.asdict's deep recursion costs ~70 us a row
        return {name: (dict(value) if isinstance(value := getattr(self, name), dict) else value) for name in _FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunDetail":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


_FIELDS = tuple(RunDetail.__dataclass_fields__)


def _pct(part: int, whole: int) -> float | None:
    return round(part / whole * 100.0, 2) if whole else None


def summarise(details: Iterable[RunDetail], *, total_run_time: float | None = None) -> dict[str, Any]:
    """The start-job summary for these rows, plus the counts behind each percentage.

    ``total_run_time`` is the job's wall-clock time for the overall summary; for a subset
    (one permutation, one language) it is the sum of the rows' response times.
    """
    rows = list(details)
    n = len(rows)
    languages = sorted({r.language for r in rows})
    passed = sum(r.passed for r in rows)
    step_a = sum(r.is_plugin_detected for r in rows)
    step_b = sum(r.is_plugin_operation_found for r in rows)
    c_rows = [r for r in rows if r.test_type == "api_signature_selector"]
    step_c = sum(r.is_plugin_parameter_mapped for r in c_rows)
    tokens = sum(r.total_llm_tokens_used for r in rows)
    response_total = sum(r.response_time_sec for r in rows)
    costs = [r.llm_api_cost for r in rows]
    scores = [r.match_score for r in rows if r.match_score is not None]
    return {
        "total_test_cases": n,
        "failed_cases": sum(not r.is_run_completed for r in rows),
        "language": languages[0] if len(languages) == 1 else ", ".join(languages),
        "overall_accuracy": _pct(passed, n),
        "accuracy_step_a": _pct(step_a, n),
        "accuracy_step_b": _pct(step_b, n),
        "accuracy_step_c": _pct(step_c, len(c_rows)),
        "total_run_time": round(total_run_time if total_run_time is not None else response_total, 3),
        "average_response_time_sec": round(response_total / n, 3) if n else None,
        "total_llm_tokens_used": tokens,
        "average_llm_tokens_used": round(tokens / n, 2) if n else None,
        "total_llm_api_cost": None if any(c is None for c in costs) else round(sum(costs), 6),  # type: ignore[arg-type]
        "passed_cases": passed,
        "step_a_passed": step_a,
        "step_b_passed": step_b,
        "step_c_passed": step_c,
        "step_c_cases": len(c_rows),
        "cached_runs": sum(r.cached for r in rows),
        "average_match_score": round(sum(scores) / len(scores), 4) if scores else None,
        "match_scored_runs": len(scores),
        "overall_accuracy_ci": wilson(passed, n),
        "accuracy_step_a_ci": wilson(step_a, n),
        "accuracy_step_b_ci": wilson(step_b, n),
        "accuracy_step_c_ci": wilson(step_c, len(c_rows)),
        **pass_k_summary(groups := cells(rows)),
        "flaky_cases": flaky_cases(groups),
        **_reason_counts(rows),
    }


def _reason_counts(rows: list[RunDetail]) -> dict[str, int]:
    """``parameter_mismatches_<reason>``: how often each reason occurs, i.e. why step c failed."""
    counts = dict.fromkeys(MISMATCH_REASONS, 0)
    for row in rows:
        for mismatch in row.parameter_mismatches or ():
            counts[mismatch["reason"]] += 1
    return {f"parameter_mismatches_{reason}": n for reason, n in counts.items()}


@dataclass(slots=True)
class JobResult(Result):
    """A permutate job's result; ``status`` is the job store's (SUCCESS, PARTIAL_SUCCESS, ERROR, CANCELLED, ...)."""

    job_name: str
    started_on: str
    completed_on: str
    test_plugin: dict[str, Any] | None
    permutations: list[dict[str, Any]]
    details: list[RunDetail]
    total_run_time: float
    status: str = "SUCCESS"
    planned_runs: int = 0
    output_directory: str | None = None
    request: dict[str, Any] = field(default_factory=dict)
    job_id: str | None = None

    @property
    def summary(self) -> dict[str, Any]:
        return summarise(self.details, total_run_time=self.total_run_time)

    def summary_by(self, key: str) -> dict[str, dict[str, Any]]:
        """Summaries per value of a detail field, e.g. ``permutation_name`` or ``language``."""
        groups: dict[str, list[RunDetail]] = {}
        for row in self.details:
            groups.setdefault(getattr(row, key), []).append(row)
        return {name: summarise(rows) for name, rows in groups.items()}

    def to_dict(self) -> dict[str, Any]:
        """The start-job response shape, with our extra fields after the documented ones."""
        return {
            "job_name": self.job_name,
            "started_on": self.started_on,
            "completed_on": self.completed_on,
            "test_plugin": self.test_plugin,
            "permutations": self.permutations,
            "summary": self.summary,
            "details": [d.to_dict() for d in self.details],
            "output_directory": self.output_directory,
            "status": self.status,
            "planned_runs": self.planned_runs,
            "summary_by_permutation": self.summary_by("permutation_name"),
            "summary_by_language": self.summary_by("language"),
            "summary_by_test_case": self.summary_by("test_case_name"),
            "job_id": self.job_id,
        }

    def compare(self, a: str, b: str) -> "PairedComparison":
        """Permutation ``b`` against ``a`` over the same test cases and languages (``b`` minus ``a``)."""
        from .compare import compare_permutations

        return compare_permutations(self.details, a, b)

    def to_pandas(self) -> "pd.DataFrame":
        return self.details_df

    @property
    def details_df(self) -> "pd.DataFrame":
        import pandas as pd

        return pd.DataFrame([d.to_dict() for d in self.details], columns=list(RunDetail.__dataclass_fields__))

    @property
    def repeats_df(self) -> "pd.DataFrame":
        """Per permutation x test case x language: repeats, passes, pass rate and interval, pass@k, pass^k, flaky."""
        import pandas as pd

        from .repeats import flat_repeat_table, repeat_table

        columns, rows = flat_repeat_table(repeat_table(self.details))
        return pd.DataFrame(rows, columns=columns)

    @property
    def summary_df(self) -> "pd.DataFrame":
        """One row per permutation and a final ``(all)`` row."""
        import pandas as pd

        rows = [{"permutation": name, **s} for name, s in self.summary_by("permutation_name").items()]
        rows.append({"permutation": "(all)", **self.summary})
        return pd.DataFrame(rows).set_index("permutation")

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"JobResult({self.job_name!r}, status={self.status!r}, runs={s['total_test_cases']}, "
            f"overall_accuracy={s['overall_accuracy']}, failed={s['failed_cases']})"
        )
