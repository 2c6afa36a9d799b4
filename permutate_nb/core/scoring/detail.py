"""One run's detail row (``RunDetail``): a permutation x test case x language x repeat, as stored.

A leaf module: scoring writes these rows, tallies and comparisons read them, results hold them.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from ..status import RunOutcome

__all__ = ["RunDetail"]


@dataclass(slots=True)
class RunDetail:
    """One run: a permutation x test case x language x repeat. Field order follows the docs.

    The fields up to ``llm_api_cost`` are the start-job document's detail row; the rest are ours.

    Attributes:
        permutation_name: The permutation that ran.
        permutation_summary: Its model and selector, e.g. ``OpenAIChat[gpt-4o] - OpenAI[default]``.
        test_type: ``plugin_selector`` or ``api_signature_selector``.
        test_case_name: The test case that ran.
        is_run_completed: False when the run failed after its retries (it then counts as a miss everywhere).
        language: The language the prompt ran in.
        prompt: The prompt actually sent (the translation, for a language other than English).
        final_output: The executed operation's answer or an agent's final answer; the reply otherwise
            (the first 64 KB).
        match_score: Token F1 of ``final_output`` against the test case's ``expected_response`` (0-1);
            None when either is missing.
        is_plugin_detected: Step a: the chosen operation belongs to ``expected_plugin_used``.
        is_plugin_operation_found: Step b: the operation's URL (and method, when given) is the expected one.
        is_plugin_parameter_mapped: Step c: step b holds and every expected parameter matched.
        plugin_name: The plugin the chosen operation belongs to.
        plugin_operation: The chosen operation's URL.
        plugin_parameters_mapped: The arguments the model gave it.
        parameter_mapped_percentage: Matched / expected parameters x 100; None for plugin_selector cases.
        response_time_sec: Time the run spent on its calls (not waiting for a turn).
        total_llm_tokens_used: Prompt plus completion tokens.
        llm_api_cost: US dollars from the price table; None for a model without a price.
        repeat: The repeat index (0-based; ``config.repeats``).
        plugin_method: The chosen operation's HTTP method.
        passed: Every step that applies holds.
        cached: Every call of the run was answered from the response cache.
        attempts: Calls made, retries included.
        prompt_tokens: Tokens sent.
        completion_tokens: Tokens received.
        error: Why the run failed, or a note (e.g. a failed executed operation); None when all went well.
        raw_response: The model's reply as received (the first 64 KB), kept for reading what went wrong.
        intermediate_steps: An agent's steps (tool, tool_input, log, observation), or the Imprompt
            pipeline's two choices.
        operation_status: The HTTP status of the executed operation (``config.execute_operations``).
        parameter_mismatches: Step c's failed comparisons, each ``{parameter, expected, actual, reason}``
            (reason ``missing``, ``unexpected``, ``type`` or ``value``); None for plugin_selector cases.
        calls_made: Every call of the answer (plugin, api, method, parameters, tool), for several-call cases.
        calls_expected: The calls the test case expects (``[]`` for ``expect_no_call``).
        call_pairings: Each expected call's pairing with a call made: indices, passed, parameter_mismatches.
        transcript: A conversation's messages in OpenAI chat form: user, assistant (with ``tool_calls``:
            id, name, arguments) and tool (``tool_call_id``, name, content; ``error`` when it failed).
        turns: A conversation's turns: turn (from 1), user, verdict, calls_made, calls_expected,
            mismatches (in words), final_text.
        reason: Why a conversation failed: ``max steps``, ``turn 2: missing call get_weather``, ``end state: ...``.
        end_state: A conversation backend's end-state check: passed, mismatches, state.
    """

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
    calls_made: list[dict[str, Any]] | None = None  # every call of the answer: plugin, api, method, parameters, tool
    calls_expected: list[dict[str, Any]] | None = None  # the calls the test case expects ([] for expect_no_call)
    call_pairings: list[dict[str, Any]] | None = None  # expected index, made index, passed, parameter_mismatches
    transcript: list[dict[str, Any]] | None = None  # a conversation's messages: user, assistant, tool
    turns: list[dict[str, Any]] | None = None  # a conversation's per-turn verdicts, calls and mismatches
    reason: str | None = None  # why a conversation failed (max steps, a turn's mismatch, the end state)
    end_state: dict[str, Any] | None = None  # a conversation backend's end-state check: passed, mismatches, state

    @property
    def outcome(self) -> RunOutcome:
        """passed, wrong (answered, verdict no) or errored (no verdict)."""
        return RunOutcome.of(self.is_run_completed, self.passed)

    def to_dict(self) -> dict[str, Any]:
        """The row as the start-job document's detail object, our fields after; a dict field is copied
        (shallow), so the dict does not share it with the row."""
        # every field in one C call, then a copy of the dict fields only: dataclasses.asdict's deep
        # recursion cost ~70 us a row, a getattr and isinstance per field ~5.5 us, this ~4.5 us
        row = dict(zip(_FIELDS, _VALUES(self)))
        for name in _DICT_FIELDS:
            value = row[name]
            if isinstance(value, dict):
                row[name] = dict(value)
        return row

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunDetail:
        """A row from ``to_dict``'s output (unknown keys ignored, so older stored rows load)."""
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


_FIELDS = tuple(RunDetail.__dataclass_fields__)
_VALUES = attrgetter(*_FIELDS)
#: the fields that hold a dict (annotated ``dict[...]``): what ``to_dict`` copies
_DICT_FIELDS = tuple(name for name, f in RunDetail.__dataclass_fields__.items() if str(f.type).startswith("dict["))
