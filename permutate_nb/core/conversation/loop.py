"""One conversation: user turns, tool calls executed and fed back, until text or ``max_steps``.

Each turn sends the history so far plus the user's message through the OpenAI-functions
selector (``reply``: the same client, cache and retries as a single-turn run; the history is
in the cache key). Every tool call of a reply is answered (``ToolResponder``) and the results go
back as ``tool`` messages; the turn ends when the model answers in text. A turn that reaches
``max_steps`` model calls ends the run (reason ``max steps``). Each turn's calls are scored by
the case's ``trajectory_match``; after the last turn a backend's state by the end-state scorer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..request.models import TestCase
from ..scoring.calls import Call
from ..selectors.openai_functions import OpenAIFunctionsSelector
from .backend import EndStateScorer, backend_state, compare_state
from .tool_results import ToolResponder
from .trajectory import score_turn

__all__ = ["ConversationOutcome", "converse", "MAX_STEPS_REASON"]

MAX_STEPS_REASON = "max steps"


@dataclass(slots=True)
class ConversationOutcome:
    """What a conversation did (the transcript, per-turn verdicts) and what it cost."""

    transcript: list[dict[str, Any]] = field(default_factory=list)
    turns: list[dict[str, Any]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    passed: bool = True
    reason: str | None = None
    final_text: str | None = None
    end_state: dict[str, Any] | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = 0.0
    cached: bool = True
    attempts: int = 0
    elapsed: float = 0.0

    def fail(self, reason: str) -> None:
        """The first failure is the run's reason."""
        if self.passed:
            self.passed, self.reason = False, reason


def _arguments(call: Call, raw: str) -> Any:
    return call.arguments if call.arguments is not None else raw


async def converse(selector: OpenAIFunctionsSelector, case: TestCase, *, repeat: int, responder: ToolResponder,
                   mode: str, language: str, backend: Any = None,
                   end_state: EndStateScorer | None = None) -> ConversationOutcome:
    """Run the case's turns and score them; never raises for what the model does (provider errors do)."""
    out = ConversationOutcome()
    messages: list[dict[str, Any]] = []
    turns = list(case.turns or ())
    for number, turn in enumerate(turns, start=1):
        # tools a later turn adds (add_tools) are not offered yet
        turn_selector = selector.without({name for later in turns[number:] for name in later.add_tools or ()})
        user = {"role": "user", "content": turn.user}
        messages.append(user)
        out.transcript.append(dict(user))
        made: list[Call] = []
        text: str | None = None
        for step in range(case.max_steps):
            selection, tool_calls = await turn_selector.reply(messages, repeat=repeat)
            out.prompt_tokens += selection.prompt_tokens
            out.completion_tokens += selection.completion_tokens
            out.cost = None if out.cost is None or selection.cost is None else out.cost + selection.cost
            out.cached = out.cached and selection.cached
            out.attempts += selection.attempts
            out.elapsed += selection.elapsed or 0.0
            if not tool_calls:
                text = selection.final_output or ""
                messages.append({"role": "assistant", "content": text})
                out.transcript.append({"role": "assistant", "content": text})
                break
            ids = [f"call_{number}_{step + 1}_{k + 1}" for k in range(len(tool_calls))]
            messages.append({"role": "assistant", "content": selection.final_output, "tool_calls": [
                {"id": i, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for i, c in zip(ids, tool_calls)]})
            out.transcript.append({"role": "assistant", "content": selection.final_output, "tool_calls": [
                {"id": i, "name": c.name, "arguments": _arguments(call, c.arguments)}
                for i, c, call in zip(ids, tool_calls, selection.calls)]})
            for call_id, call in zip(ids, selection.calls):
                result, ok = await responder.respond(call)
                messages.append({"role": "tool", "tool_call_id": call_id, "content": result})
                entry: dict[str, Any] = {"role": "tool", "tool_call_id": call_id, "name": call.name, "content": result}
                if not ok:
                    entry["error"] = True
                out.transcript.append(entry)
            made.extend(selection.calls)
        out.calls.extend(made)
        verdict = score_turn(turn, made, turn_selector.toolset, trajectory=case.trajectory_match, mode=mode, language=language)
        mismatches = list(verdict.mismatches)
        if text is None:
            mismatches.append(f"no text answer within max_steps={case.max_steps} model calls")
        out.turns.append({"turn": number, "user": turn.user, "verdict": verdict.verdict and text is not None,
                          "calls_made": [c.to_dict() for c in made], "calls_expected": [e.to_dict() for e in verdict.expected],
                          "mismatches": mismatches, "final_text": text})
        if text is None:
            out.fail(MAX_STEPS_REASON)
            break
        out.final_text = text
        if not verdict.verdict:
            out.fail(f"turn {number}: {'; '.join(mismatches)}")
    if backend is not None and (case.expected_state is not None or end_state is not None) and _all_turns_ran(out):
        scorer = end_state or compare_state  # a job's own scorer runs even without expected_state (BFCL's checker)
        problems = scorer(backend, case.expected_state or {}, case, out.transcript)
        out.end_state = {"passed": not problems, "mismatches": problems, "state": _state(backend)}
        if problems:
            out.fail(f"end state: {'; '.join(problems)}")
    return out


def _all_turns_ran(out: ConversationOutcome) -> bool:
    """Every turn ran (no max steps): only then is the end state the conversation's."""
    return out.reason != MAX_STEPS_REASON


def _state(backend: Any) -> Mapping[str, Any] | str:
    try:
        return backend_state(backend)
    except (TypeError, ValueError) as exc:
        return json.dumps(f"state not readable: {exc}")
