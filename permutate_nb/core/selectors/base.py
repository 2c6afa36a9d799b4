"""What a tool selector returns, and the protocol every selector follows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ..plugins.openapi import Operation
from ..scoring.calls import Call

__all__ = ["Selection", "ToolSelector", "selection_from_outcome"]


@dataclass(slots=True)
class Selection:
    """The selector's pick. Any of plugin / operation / arguments may be missing (a text-only reply)."""

    plugin_id: str | None = None
    plugin_name: str | None = None
    url: str | None = None
    method: str | None = None
    arguments: dict[str, Any] | None = None
    final_output: str | None = None
    raw_response: str | None = None
    note: str | None = None  # why a step could not happen (malformed arguments, unknown tool, no tool call)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int | None = None  # when only a total is known (a remote selector); else prompt + completion
    cost: float | None = 0.0
    cached: bool = False
    attempts: int = 1
    elapsed: float | None = None  # the selector's own time; None: the engine's wall clock is used
    extra: dict[str, Any] = field(default_factory=dict)
    operation: Operation | None = None  # the chosen operation (what execute_operations calls)
    intermediate_steps: list[dict[str, Any]] | None = None  # an agent's steps, in order
    operation_status: int | None = None  # HTTP status of the executed operation, if it was called
    calls: list[Call] = field(default_factory=list)  # every call of the answer (the first fills the fields above)

    def all_calls(self) -> list[Call]:
        """Every call made: ``calls``, else the one call the fields above describe (a selector that
        returns one call), else none."""
        if self.calls:
            return self.calls
        if self.url is None and self.plugin_id is None:
            return []
        return [Call(self.operation.operation_id if self.operation else None, self.plugin_id, self.plugin_name,
                     self.url, self.method, self.arguments, self.operation)]


class ToolSelector(Protocol):
    """``test_type`` is the test case's type; only a remote selector (two endpoints) needs it."""

    async def select(self, prompt: str, *, repeat: int, test_type: str = "api_signature_selector") -> Selection:
        """The tool (or tools) chosen for ``prompt``, with the tokens, cost and time it took."""
        ...


def selection_from_outcome(outcome: Any, client: Any, prices: Any, **fields: Any) -> Selection:
    """A Selection carrying one model call's text, tokens, cost, cache flag, attempts and time."""
    result = outcome.result
    return Selection(
        final_output=result.content,
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        cost=prices.cost(client.provider.model, result.prompt_tokens, result.completion_tokens),
        cached=outcome.cached,
        attempts=outcome.attempts,
        elapsed=outcome.elapsed,
        **fields,
    )
