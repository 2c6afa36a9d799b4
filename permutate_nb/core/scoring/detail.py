"""One run's detail row (``RunDetail``): a permutation x test case x language x repeat, as stored.

A leaf module: scoring writes these rows, tallies and comparisons read them, results hold them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..status import RunOutcome

__all__ = ["RunDetail"]


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

    @property
    def outcome(self) -> RunOutcome:
        """passed, wrong (answered, verdict no) or errored (no verdict)."""
        return RunOutcome.of(self.is_run_completed, self.passed)

    def to_dict(self) -> dict[str, Any]:
        # a shallow copy per field: dataclasses.asdict's deep recursion costs ~70 us a row
        return {name: (dict(value) if isinstance(value := getattr(self, name), dict) else value) for name in _FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunDetail":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


_FIELDS = tuple(RunDetail.__dataclass_fields__)
