"""The judge: one chat call per judged metric, answered as ``{"score": 0..1, "reasoning": "..."}``.

A judge that fails, or answers something that is not such a verdict, leaves the score
null with the reason: a made-up number would be worse than none.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from ....errors import PermutateError
from ...llm.base import ChatRequest
from ...llm.client import LLMClient
from ...llm.pricing import PriceTable
from .dataset import EvalCase
from .metrics import Metric

__all__ = ["Verdict", "judge", "parse_verdict", "VERDICT_SCHEMA"]

VERDICT_SCHEMA = {
    "type": "object",
    "properties": {"score": {"type": "number", "minimum": 0, "maximum": 1}, "reasoning": {"type": "string", "maxLength": 160}},
    "required": ["score", "reasoning"],
}
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


@dataclass
class Verdict:
    """One metric's score for one answer, with the reason: what an output's ``metric_scores`` record.

    Attributes:
        score: 0..1, or None when the metric was not applicable or the judge failed.
        reasoning: The judge's reason, ``computed`` for a deterministic metric, or why there is no score.
        failed: True when scoring failed (no generation, a failed judge call or answer), not when not applicable.
        time_elapsed_s: Seconds the judge call took (0 without one).
        usage: The judge call's tokens, cost and model (empty without one).
    """

    score: float | None
    reasoning: str
    failed: bool = False
    time_elapsed_s: float = 0.0
    usage: list[dict[str, Any]] = field(default_factory=list)


def parse_verdict(text: str | None) -> tuple[float, str]:
    """(score, reasoning), or ValueError saying what is wrong with the judge's answer."""
    if not text or not text.strip():
        raise ValueError("the judge answered nothing")
    try:
        data = json.loads(_FENCE.sub("", text.strip()))
    except ValueError:
        raise ValueError(f"the judge's answer is not JSON: {text.strip()[:120]!r}") from None
    if not isinstance(data, dict) or "score" not in data:
        raise ValueError(f"the judge's answer has no score: {text.strip()[:120]!r}")
    score = data["score"]
    if isinstance(score, bool) or not isinstance(score, (int, float)):
        raise ValueError(f"the judge's score {score!r} is not a number")
    if not 0 <= score <= 1:
        raise ValueError(f"the judge's score {score} is outside 0..1")
    return float(score), str(data.get("reasoning") or "")


def _prompt(metric: Metric, case: EvalCase, answer: str) -> str:
    parts = [f'Grade an answer for the metric "{metric.name}". {metric.instructions}', f"QUESTION:\n{case.input}"]
    if metric.needs_context:
        parts.append(f"CONTEXT:\n{case.context_str}")
    if metric.needs_reference:
        parts.append(f"REFERENCE:\n{case.expected_output}")
    parts.append(f"ANSWER:\n{answer}")
    parts.append('Reply with JSON only: {"score": <a number from 0 to 1>, "reasoning": "<one or two sentences>"}')
    return "\n\n".join(parts)


async def judge(client: LLMClient, provider_kind: str, metric: Metric, case: EvalCase, answer: str,
                prices: PriceTable) -> Verdict:
    """Ask the judge model to grade ``answer`` for ``metric``; a failed call, or an answer that is not a
    verdict, gives a failed ``Verdict`` without a score."""
    # JSON mode everywhere; the embedded model also gets the schema (llama.cpp turns it into a grammar)
    response_format: dict[str, Any] = {"type": "json_object"}
    if provider_kind == "local":
        response_format["schema"] = VERDICT_SCHEMA
    request = ChatRequest(messages=({"role": "user", "content": _prompt(metric, case, answer)},),
                          response_format=response_format)
    started = time.perf_counter()
    try:
        outcome = await client.chat(request)
    except PermutateError as exc:
        return Verdict(None, f"the judge failed: {exc}", True, round(time.perf_counter() - started, 3))
    result = outcome.result
    usage = [{"prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens,
              "cost": prices.cost(client.provider.model, result.prompt_tokens, result.completion_tokens),
              "model": result.model or client.provider.model}]
    elapsed = round(outcome.elapsed, 3)
    try:
        score, reasoning = parse_verdict(result.content)
    except ValueError as exc:
        return Verdict(None, str(exc), True, elapsed, usage)
    return Verdict(score, reasoning, False, elapsed, usage)
