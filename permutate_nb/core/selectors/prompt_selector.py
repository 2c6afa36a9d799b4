"""Selector ``OpenAI`` on a completion model (provider ``OpenAI``): selection by prompt.

A completion model has no tools, so the operations are listed in the prompt as
``METHOD URL - summary`` with their parameter names, and the model answers one line
``<METHOD> <URL>?<query>``. The answer's URL is matched against the operations (path
templates included: ``/items/{id}`` matches ``/items/42`` and yields ``id``), and its query
parameters become the arguments, typed by the operation's schema. A JSON answer
``{"name": tool, "arguments": {...}}`` is understood too.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from ..llm.base import ChatRequest
from ..llm.client import LLMClient
from ..llm.pricing import PriceTable
from ..plugins.openapi import Operation
from ..plugins.tools import ToolSet
from ..request.locations import normalise_url
from .base import Selection, selection_from_outcome
from .openai_functions import selection_from_tool_call

__all__ = ["PromptSelector", "build_prompt", "operation_line", "parse_answer"]

_CALL = re.compile(r"\b(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\s+(https?://[^\s`'\"<>]+|/[^\s`'\"<>]*)", re.IGNORECASE)
_TEMPLATE = re.compile(r"\\\{([^}]+)\\\}")
_PROMPT = """You choose the one API operation that fulfils a user's request.

Operations (METHOD URL - summary; parameters):
{operations}

Request: {prompt}

Answer with one line: the METHOD and the URL of the operation, with the values the request gives as query \
parameters, for example: GET https://api.example.com/items?name=lamp&limit=3
Answer:"""


def operation_line(operation: Operation) -> str:
    """``METHOD URL - summary (parameter names)``: how a prompt lists an operation."""
    names = ", ".join(operation.parameters.get("properties", {}))
    text = operation.summary or operation.description
    summary = text.splitlines()[0][:200] if text else ""
    return f"{operation.method} {operation.url} - {summary}" + (f" ({names})" if names else "")


def build_prompt(toolset: ToolSet, prompt: str) -> str:
    """The completion prompt: the group's operations one per line, then the user's request."""
    return _PROMPT.format(operations="\n".join(operation_line(op) for op in toolset.by_name.values()), prompt=prompt)


def _typed(value: str, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        return value
    if kind == "boolean" and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _match(operation: Operation, url: str) -> dict[str, str] | None:
    """Path parameters if ``url`` (no query) is this operation's URL, else None."""
    pattern = _TEMPLATE.sub(r"(?P<\1>[^/]+)", re.escape(normalise_url(operation.url)))
    try:
        found = re.fullmatch(pattern, normalise_url(url))
    except re.error:  # a parameter name that is not a valid group name: compare literally
        return {} if normalise_url(operation.url) == normalise_url(url) else None
    return None if found is None else {k: unquote(v) for k, v in found.groupdict().items()}


def parse_answer(toolset: ToolSet, text: str, selection: Selection) -> Selection:
    """Fill ``selection`` from the model's answer (see the module doc); a miss leaves a note."""
    for match in _CALL.finditer(text):
        method, raw_url = match.group(1).upper(), match.group(2).rstrip(".,;:)]}")
        parts = urlsplit(raw_url)
        base = raw_url.split("?", 1)[0].split("#", 1)[0]
        for operation in toolset.by_name.values():
            if operation.method != method:
                continue
            path_args = _match(operation, base)
            if path_args is None:
                continue
            props = operation.parameters.get("properties", {})
            arguments: dict[str, Any] = dict(path_args)
            for key, value in parse_qsl(parts.query, keep_blank_values=True):
                value = _typed(value, props.get(key, {}))
                if key in arguments and key not in path_args:
                    previous = arguments[key]
                    arguments[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
                else:
                    arguments[key] = value
            selection.operation = operation
            selection.plugin_id, selection.plugin_name = operation.plugin_id, operation.plugin_name
            selection.url, selection.method, selection.arguments = operation.url, operation.method, arguments
            return selection
    start = text.find("{")
    if start >= 0:
        try:
            call, _ = json.JSONDecoder().raw_decode(text[start:])
        except ValueError:
            call = None
        if isinstance(call, dict) and isinstance(call.get("name"), str):
            return selection_from_tool_call(toolset, call["name"], json.dumps(call.get("arguments", {})), selection)
    selection.note = "the answer names no operation of the plugin group as METHOD URL"
    selection.raw_response = text
    return selection


class PromptSelector:
    """Selector ``OpenAI`` on a completion model: the operations in the prompt, the answer's ``METHOD URL`` the pick."""

    def __init__(self, client: LLMClient, toolset: ToolSet, prices: PriceTable) -> None:
        self._client = client
        self._toolset = toolset
        self._prices = prices

    async def select(self, prompt: str, *, repeat: int, test_type: str = "api_signature_selector") -> Selection:
        """One completion for ``prompt``, its answer parsed into the selection (a note when it names no operation)."""
        request = ChatRequest(messages=({"role": "user", "content": build_prompt(self._toolset, prompt)},))
        outcome = await self._client.chat(request, repeat=repeat)
        content = outcome.result.content
        selection = selection_from_outcome(outcome, self._client, self._prices, raw_response=content)
        return parse_answer(self._toolset, content or "", selection)
