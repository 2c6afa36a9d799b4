"""Selector ``OpenAI``: the model picks a tool through chat-completions function calling.

The prompt goes out as the only user message with one tool per operation of the plugin
group; the first tool call is the selection, and every tool call of the reply (OpenAI's
``parallel_tool_calls``, on by default) is kept in ``Selection.calls`` for cases that expect
several. A reply without a usable tool call still completes the run: the steps that did not
happen score false and the raw reply is kept.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any

from ..llm.base import ChatRequest, ToolCall
from ..llm.client import LLMClient
from ..llm.pricing import PriceTable
from ..plugins.tools import ToolSet
from ..scoring.calls import Call
from .base import Selection, selection_from_outcome

__all__ = ["OpenAIFunctionsSelector", "call_from_tool_call", "selection_from_tool_call"]


def call_from_tool_call(toolset: ToolSet, name: str, arguments: Any) -> Call:
    """One tool call as a ``Call``: the operation its name maps to, its arguments parsed
    (a dict is taken as it is; text that is not a JSON object gives ``arguments=None``)."""
    if isinstance(arguments, dict):
        parsed: Any = arguments
    else:
        try:
            parsed = json.loads(arguments) if str(arguments).strip() else {}
        except ValueError:
            parsed = None
    operation = toolset.by_name.get(name)
    parsed = parsed if isinstance(parsed, dict) else None
    if operation is None:
        return Call(name, arguments=parsed)
    return Call(name, operation.plugin_id, operation.plugin_name, operation.url, operation.method, parsed, operation)


def selection_from_tool_call(toolset: ToolSet, name: str, arguments_text: str, selection: Selection,
                             parsed: dict[str, Any] | None = None) -> Selection:
    """Fill ``selection`` from a tool call: map the name back to its operation, parse the JSON
    (``parsed``: the arguments already parsed from ``arguments_text``, so a run parses them once)."""
    operation = toolset.by_name.get(name)
    if operation is None:
        selection.note = f"the model called an unknown tool {name!r}"
        selection.raw_response = json.dumps({"name": name, "arguments": arguments_text})
        return selection
    selection.operation = operation
    selection.plugin_id = operation.plugin_id
    selection.plugin_name = operation.plugin_name
    selection.url = operation.url
    selection.method = operation.method
    if parsed is None:
        try:
            parsed = json.loads(arguments_text) if arguments_text.strip() else {}
        except ValueError:
            parsed = None
    if isinstance(parsed, dict):
        selection.arguments = parsed
    else:
        selection.note = "the tool call's arguments are not a JSON object"
        selection.raw_response = arguments_text
    return selection


class OpenAIFunctionsSelector:
    """Selector ``OpenAI`` on a chat model: the group's operations as tools, the model's tool calls the pick."""

    def __init__(self, client: LLMClient, toolset: ToolSet, prices: PriceTable, *, tool_choice: str | None = "auto") -> None:
        self._client = client
        self._toolset = toolset
        self._prices = prices
        self._tool_choice = tool_choice if toolset.tools else None
        self._tool_choice_given = tool_choice

    @property
    def toolset(self) -> ToolSet:
        """The tools this selector offers the model."""
        return self._toolset

    def without(self, names: Collection[str]) -> OpenAIFunctionsSelector:
        """The same model over these tools minus ``names`` (a conversation's tools not offered yet)."""
        toolset = self._toolset.without(frozenset(names))
        if toolset is self._toolset:
            return self
        return OpenAIFunctionsSelector(self._client, toolset, self._prices, tool_choice=self._tool_choice_given)

    async def select(self, prompt: str, *, repeat: int, test_type: str = "api_signature_selector") -> Selection:
        """The model's tool calls for ``prompt`` alone (a one-turn ``reply``)."""
        selection, _ = await self.reply(({"role": "user", "content": prompt},), repeat=repeat)
        return selection

    async def reply(self, messages: Sequence[dict[str, Any]], *, repeat: int) -> tuple[Selection, list[ToolCall]]:
        """The model's next message after ``messages`` (a conversation's history, tool results included):
        the selection made of it and its tool calls as sent (raw argument text, for the history). The
        history is part of the cache key, so a cached reply is never reused for another history."""
        request = ChatRequest(
            messages=tuple(messages),
            tools_json=self._toolset.tools_json if self._toolset.tools else None,
            tools_digest=self._toolset.digest,
            tool_choice=self._tool_choice,
        )
        outcome = await self._client.chat(request, repeat=repeat)
        result = outcome.result
        selection = selection_from_outcome(outcome, self._client, self._prices)
        if not result.tool_calls:
            selection.note = "the model answered without calling a tool"
            selection.raw_response = result.content
            return selection, []
        selection.calls = [call_from_tool_call(self._toolset, c.name, c.arguments) for c in result.tool_calls]
        call = result.tool_calls[0]
        return (
            selection_from_tool_call(self._toolset, call.name, call.arguments, selection, selection.calls[0].arguments),
            result.tool_calls,
        )
