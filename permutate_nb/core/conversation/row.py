"""A conversation's row: the run's verdict and reason, its turns and transcript, its cost."""

from __future__ import annotations

from ..request.matrix import RunSpec
from ..request.models import JobRequest
from ..scoring.detail import RunDetail
from ..scoring.rows import base_row, capped
from ..scoring.similarity import match_score
from .loop import ConversationOutcome

__all__ = ["conversation_row"]


def conversation_row(request: JobRequest, spec: RunSpec, out: ConversationOutcome, elapsed: float) -> RunDetail:
    """Steps a and b hold when every turn's calls matched; ``passed`` also needs the end state."""
    case = request.test_cases[spec.test_case]
    turns_ok = all(turn["verdict"] for turn in out.turns)
    return base_row(
        request, spec, True, elapsed,
        final_output=capped(out.final_text),
        match_score=match_score(out.final_text, case.expected_response),
        is_plugin_detected=turns_ok,
        is_plugin_operation_found=turns_ok,
        total_llm_tokens_used=out.prompt_tokens + out.completion_tokens,
        llm_api_cost=out.cost,
        passed=out.passed,
        cached=out.cached,
        attempts=out.attempts,
        prompt_tokens=out.prompt_tokens,
        completion_tokens=out.completion_tokens,
        error=None,
        calls_made=[c.to_dict() for c in out.calls],
        transcript=out.transcript,
        turns=out.turns,
        reason=out.reason,
        end_state=out.end_state,
    )
