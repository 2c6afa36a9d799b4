"""Selector ``Imprompt`` in-process (no ``config.tool_selector_endpoint``): two prompts on the permutation's model.

The original service ran OpenPlugin's "imprompt basic" pipeline when no selector endpoint was
set, so the reference documents' start-job example names ``Imprompt`` without one. This is that
pipeline, in the same spirit and on any provider (chat, completion, the embedded model):

1. plugin choice: the group's plugins (model-facing name and description) in a ReAct-like
   prompt; the answer's ``Action:`` names a plugin, or ``none``;
2. operation choice: the chosen plugin's operations (``METHOD URL - summary (parameters)``)
   with their signature helpers; the answer ``<METHOD> <URL>?<query>`` is read by the
   completion-model selector's parser (path templates, query values typed by the schema).

A model decoded under a JSON schema (the embedded model, which follows neither format freely)
answers step 1 as ``{"Thought": ..., "Action": <plugin name or none>}`` and step 2 as
``{"name": <operation>, "arguments": {...}}``; the same parsers read both.

Both answers, with their tokens, go in the row's ``intermediate_steps``. An answer to step 1
that names neither a plugin of the group nor ``none`` fails the run (nothing was chosen); an
operation answer that matches no operation completes with a note, step a still scored.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ...errors import ProviderError
from ..llm.base import ChatRequest
from ..llm.client import ChatOutcome, LLMClient
from ..llm.local import tool_call_schema
from ..llm.pricing import PriceTable
from ..plugins.loader import Plugin
from ..plugins.tools import ToolSet, build_toolset
from .base import Selection
from .prompt_selector import operation_line, parse_answer

__all__ = ["ImpromptSelector", "plugin_prompt", "operation_prompt", "choose_plugin", "model_name"]

PLUGIN_PROMPT = """Answer the question with one of these tools, or none.

{plugins}

Use this format:
Question: the user's request
Thought: which tool fits it
Action: one of [{names}], or none

Question: {prompt}
Thought:"""

OPERATION_PROMPT = """You call the {name} API: {description}

Operations (METHOD URL - summary (parameters)):
{operations}

Request: {prompt}

Answer with one line: the METHOD and the URL of the operation, with the values the request gives as \
query parameters, for example: GET https://api.example.com/items?name=lamp&limit=3
Answer:"""

_DESCRIPTION = 300  # characters of a description in a prompt: a small model needs short prompts
_ACTION = re.compile(r"^[\W_]*action\s*\d*\s*:(.*)$", re.IGNORECASE | re.MULTILINE)
_NONE = re.compile(r"(none|no tool|no action|nothing|null|n/?a)\b", re.IGNORECASE)
_STRIP = "`'\"*[]()<>.,;: \t"
_THOUGHT = 60  # characters of a schema-decoded thought: enough to reason, short enough to stay fast


def model_name(plugin: Plugin) -> str:
    """The plugin's model-facing name: ``name_for_model`` from the manifest, else its name."""
    name = plugin.manifest.get("name_for_model")
    return name.strip() if isinstance(name, str) and name.strip() else plugin.name


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _DESCRIPTION else text[: _DESCRIPTION - 1].rstrip() + "…"


def plugin_prompt(plugins: tuple[Plugin, ...], prompt: str) -> str:
    """Step 1: each plugin as ``name: description``, then the ReAct format."""
    lines = "\n".join(f"{model_name(p)}: {_short(p.description)}" for p in plugins)
    return PLUGIN_PROMPT.format(plugins=lines, names=", ".join(model_name(p) for p in plugins), prompt=prompt)


def operation_prompt(plugin: Plugin, prompt: str) -> str:
    """Step 2: the plugin's operations, each followed by its signature helpers."""
    lines = []
    for operation in plugin.operations:
        lines.append(operation_line(operation))
        lines.extend(f"  Hint: {helper}" for helper in operation.prompt_helpers)
    return OPERATION_PROMPT.format(name=model_name(plugin), description=_short(plugin.description),
                                   operations="\n".join(lines), prompt=prompt)


def _key(text: str) -> str:
    """Case, spaces and punctuation do not tell plugin names apart."""
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def _actions(answer: str) -> list[str]:
    """The answer's ``Action:`` values in order, or a JSON answer's ``Action`` (schema decoding)."""
    text = answer.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            return [str(v) for k, v in data.items() if k.casefold() == "action" and v is not None]
    return _ACTION.findall(answer)


def choose_plugin(answer: str, plugins: tuple[Plugin, ...]) -> tuple[bool, Plugin | None]:
    """``(True, plugin)`` or ``(True, None)`` for ``Action: none``; ``(False, None)``: the answer names neither.

    The first ``Action:`` naming a plugin (exactly, or inside a longer value) or none wins; without
    one, an answer that mentions exactly one plugin's name anywhere chooses it.
    """
    names = sorted(((_key(n), p) for p in plugins for n in {model_name(p), p.name} if _key(n)),
                   key=lambda item: -len(item[0]))
    for value in _actions(answer):
        value = value.strip(_STRIP)
        if _NONE.match(value):
            return True, None
        key = _key(value)
        if not key:
            continue
        found = next((p for k, p in names if k == key), None) or next((p for k, p in names if k in key), None)
        if found is not None:
            return True, found
    whole = _key(answer)
    mentioned = {id(p): p for k, p in names if k in whole}
    if len(mentioned) == 1:
        return True, next(iter(mentioned.values()))
    return False, None


def _step(name: str, answer: str, outcome: ChatOutcome, **fields: Any) -> dict[str, Any]:
    result = outcome.result
    return {"step": name, "answer": answer, **fields,
            "prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens}


def _json_format(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_object", "schema": schema}


class ImpromptSelector:
    """The two-prompt pipeline over the job's ``LLMClient`` (its cache and retries apply to both calls)."""

    def __init__(self, client: LLMClient, toolset: ToolSet, prices: PriceTable, *, by_schema: bool = False) -> None:
        self._client = client
        self._prices = prices
        self._plugins = toolset.plugins
        self._toolsets = {p.id: build_toolset([p]) for p in self._plugins}  # parse_answer reads one plugin's
        # schema decoding: step 1's answer as {Thought, Action}, step 2's as {name: operation, arguments}
        self._plugin_format: dict[str, Any] | None = None
        self._operation_formats: dict[str, dict[str, Any]] = {}
        if by_schema:
            actions = [*dict.fromkeys(model_name(p) for p in self._plugins), "none"]
            self._plugin_format = _json_format({
                "type": "object", "required": ["Thought", "Action"],
                "properties": {"Thought": {"type": "string", "maxLength": _THOUGHT}, "Action": {"enum": actions}},
            })
            self._operation_formats = {plugin_id: _json_format(tool_call_schema(ts.tools))
                                       for plugin_id, ts in self._toolsets.items() if ts.tools}

    async def _ask(self, text: str, repeat: int, selection: Selection,
                   answer_format: dict[str, Any] | None) -> tuple[str, ChatOutcome]:
        request = ChatRequest(messages=({"role": "user", "content": text},), response_format=answer_format)
        outcome = await self._client.chat(request, repeat=repeat)
        result = outcome.result
        selection.prompt_tokens += result.prompt_tokens
        selection.completion_tokens += result.completion_tokens
        selection.attempts += outcome.attempts
        selection.cached = selection.cached and outcome.cached
        selection.elapsed = (selection.elapsed or 0.0) + outcome.elapsed
        return result.content or "", outcome

    async def select(self, prompt: str, *, repeat: int, test_type: str = "api_signature_selector") -> Selection:
        """Ask for a plugin, then for one of its operations; both answers go in ``intermediate_steps``."""
        steps: list[dict[str, Any]] = []
        selection = Selection(attempts=0, cached=True, elapsed=0.0, intermediate_steps=steps)
        answer, outcome = await self._ask(plugin_prompt(self._plugins, prompt), repeat, selection, self._plugin_format)
        readable, plugin = choose_plugin(answer, self._plugins)
        if not readable:
            names = ", ".join(model_name(p) for p in self._plugins)
            raise ProviderError(
                f"Imprompt plugin choice: the answer names no plugin of the group ({names}) and not none; "
                f"expected 'Action: <plugin name>' or 'Action: none'; the answer: {' '.join(answer.split())[:200]!r}"
            )
        steps.append(_step("plugin_choice", answer, outcome, plugin=model_name(plugin) if plugin else None))
        if plugin is None:
            selection.note = "the model chose no plugin (Action: none)"
        else:
            answer, outcome = await self._ask(operation_prompt(plugin, prompt), repeat, selection,
                                             self._operation_formats.get(plugin.id))
            parse_answer(self._toolsets[plugin.id], answer, selection)
            if selection.operation is None:  # no operation matched: step a still counts the chosen plugin
                selection.plugin_id, selection.plugin_name = plugin.id, plugin.name
            chosen = f"{selection.method} {selection.url}" if selection.url else None
            steps.append(_step("operation_choice", answer, outcome, operation=chosen))
        selection.cost = self._prices.cost(self._client.provider.model, selection.prompt_tokens,
                                           selection.completion_tokens)
        return selection
