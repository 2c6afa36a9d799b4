"""Selector ``Langchain``: an agent over LangChain tools built from the plugin group's operations.

Two pipelines:

- ``zero-shot-react-description``: the ReAct text agent. The tools (name, description and
  argument schema) are listed in the classic MRKL prompt; the model writes ``Thought`` /
  ``Action`` / ``Action Input`` lines, stopped at ``Observation:``; the Action Input is a
  JSON object of the tool's arguments.
- ``tool-calling``: the chat model's native tool calling through ``bind_tools``
  (``tool_choice: auto`` sent explicitly).

The loop is written here on langchain-core rather than taken from ``AgentExecutor``: that
class moved out of ``langchain`` 1.x into ``langchain-classic``, and the classic zero-shot
agent refuses tools with more than one argument, which every real operation has.

The first tool the agent calls is the selection; with tool calling, every call of the first
reply is kept in ``Selection.calls`` (cases that expect several calls). Without ``config.execute_operations``
the agent stops there (its one step has no observation); with it, each call really goes
to the API, the answer is the observation, and the agent continues until its final
answer (``final_output``) or ``MAX_STEPS``, when the last API answer is the output.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import Any

from langchain_core.language_models import BaseLLM
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import StructuredTool
from langchain_core.tools.render import render_text_description_and_args

from ...errors import ProviderError
from ..llm.langchain_models import end_run, start_run
from ..llm.pricing import PriceTable
from ..plugins.execute import OperationExecutor
from ..plugins.openapi import Operation
from ..plugins.tools import ToolSet
from .base import Selection
from .openai_functions import call_from_tool_call, selection_from_tool_call

__all__ = ["LangchainSelector", "PIPELINES", "build_tools", "parse_react", "REACT_PROMPT", "MAX_STEPS"]

PIPELINES = ("zero-shot-react-description", "tool-calling")
MAX_STEPS = 5
REACT_PROMPT = """Answer the following questions as best you can. You have access to the following tools:

{tools}

Use the following format:

Question: the input question you must answer
Thought: you should always think about what to do
Action: the action to take, should be one of [{tool_names}]
Action Input: the input to the action, a JSON object with the tool's args
Observation: the result of the action
... (this Thought/Action/Action Input/Observation can repeat N times)
Thought: I now know the final answer
Final Answer: the final answer to the original input question

Begin!

Question: {input}
Thought:{agent_scratchpad}"""
_STOP = ["\nObservation:"]
_ACTION = re.compile(r"Action\s*\d*\s*:[\s]*(.*?)[\s]*Action\s*\d*\s*Input\s*\d*\s*:[\s]*(.*)", re.DOTALL)
_FINAL = "Final Answer:"


def build_tools(toolset: ToolSet, executor: OperationExecutor | None) -> list[StructuredTool]:
    """One LangChain tool per operation: its tool name, description and JSON-schema arguments.

    Invoking a tool calls the operation (when executing) and returns the answer as content,
    with the ``Execution`` as the artifact.
    """
    tools = []
    for spec in toolset.tools:
        fn = spec["function"]
        operation = toolset.by_name[fn["name"]]

        async def call(_operation: Operation = operation, **arguments: Any) -> tuple[str, Any]:
            if executor is None:
                return "(operations are not executed: set config.execute_operations)", None
            execution = await executor.execute(_operation, arguments)
            return execution.observation, execution

        tools.append(StructuredTool.from_function(
            coroutine=call, name=fn["name"], description=fn.get("description") or fn["name"],
            args_schema=fn.get("parameters") or {"type": "object", "properties": {}},
            response_format="content_and_artifact",
        ))
    return tools


def parse_react(text: str) -> tuple[str, str, str] | None:
    """``("action", tool, input)`` or ``("final", answer, "")`` from a ReAct reply, else None.

    Text after an ``Observation`` the model wrote itself is dropped (a stop sequence the
    in-process model does not apply).
    """
    text = text.split("\nObservation")[0]
    action = _ACTION.search(text)
    final = text.find(_FINAL)
    if action and (final < 0 or final > action.start()):
        return "action", action.group(1).strip().strip("`'\"*[] "), action.group(2).strip()
    if final >= 0:
        return "final", text[final + len(_FINAL):].strip(), ""
    return None


def react_arguments(raw: str, operation: Operation | None) -> dict[str, Any] | None:
    """The Action Input as arguments: a JSON object, or a bare value for a one-argument tool."""
    raw = raw.strip()
    if raw.startswith("```"):
        raw = raw.strip("`").removeprefix("json").strip()
    if raw.startswith("{"):
        try:
            value, _ = json.JSONDecoder().raw_decode(raw)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None
    names = list((operation.parameters.get("properties") or {}) if operation else ())
    if len(names) == 1 and raw:
        return {names[0]: raw.strip("'\"")}
    return None


def _step(tool: str, tool_input: Any, log: str, observation: str | None) -> dict[str, Any]:
    return {"tool": tool, "tool_input": tool_input, "log": log.strip(), "observation": observation}


class LangchainSelector:
    """Selector ``Langchain``: a tool-calling or ReAct agent over the group's operations as LangChain tools."""

    def __init__(
        self,
        model: Any,
        toolset: ToolSet,
        prices: PriceTable,
        *,
        pipeline: str,
        model_name: str,
        executor: OperationExecutor | None = None,
        endpoint: str = "",
    ) -> None:
        if pipeline not in PIPELINES:
            raise ValueError(f"unknown LangChain pipeline {pipeline!r}")
        self._model = model
        self._toolset = toolset
        self._prices = prices
        self._pipeline = pipeline
        self._model_name = model_name
        self._executor = executor
        self._endpoint = endpoint
        self._tools = build_tools(toolset, executor)
        self._by_name = {tool.name: tool for tool in self._tools}
        if pipeline == "tool-calling":
            self._bound = model.bind_tools(self._tools, tool_choice="auto") if self._tools else model
        self._react_head = {
            "tools": render_text_description_and_args(list(self._tools)),
            "tool_names": ", ".join(self._by_name),
        }

    async def select(self, prompt: str, *, repeat: int, test_type: str = "api_signature_selector") -> Selection:
        """Run the agent on ``prompt``: its tool calls, steps and final answer make the selection."""
        stats, token = start_run(repeat)
        started = time.perf_counter()
        selection = Selection(intermediate_steps=[], attempts=0)
        try:
            if self._pipeline == "tool-calling":
                await self._tool_calling(prompt, selection)
            else:
                await self._react(prompt, selection)
        except Exception as exc:  # noqa: BLE001 - model errors become one readable line
            raise _provider_error(exc, self._endpoint, selection.attempts) from None
        finally:
            end_run(token)
        selection.cached = selection.attempts > 0 and stats.cache_hits >= selection.attempts
        selection.attempts -= min(stats.cache_hits, selection.attempts)  # calls that reached the model
        selection.cost = self._prices.cost(self._model_name, selection.prompt_tokens, selection.completion_tokens)
        selection.elapsed = time.perf_counter() - started - stats.queued
        return selection

    # -- model calls ------------------------------------------------------------------
    def _count(self, selection: Selection, input_tokens: int, output_tokens: int) -> None:
        selection.attempts += 1
        selection.prompt_tokens += input_tokens
        selection.completion_tokens += output_tokens

    async def _complete(self, text: str, selection: Selection) -> str:
        """One ReAct turn: a chat model gets the prompt as a user message, a text model as is."""
        if isinstance(self._model, BaseLLM):
            result = await self._model.agenerate([text], stop=_STOP)
            usage = (result.llm_output or {}).get("token_usage") or {}
            self._count(selection, int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))
            return result.generations[0][0].text
        message = await self._model.ainvoke([HumanMessage(content=text)], stop=_STOP)
        self._usage(selection, message)
        return message.content if isinstance(message.content, str) else str(message.content)

    def _usage(self, selection: Selection, message: AIMessage) -> None:
        usage: Mapping[str, Any] = message.usage_metadata or {}
        self._count(selection, int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0))

    async def _run_tool(self, name: str, arguments: dict[str, Any], call_id: str, selection: Selection) -> str:
        """Call the operation behind ``name``; the first call's status goes in the row."""
        message: ToolMessage = await self._by_name[name].ainvoke(
            {"name": name, "args": arguments, "id": call_id, "type": "tool_call"})
        execution = message.artifact
        if execution is not None:
            if selection.operation_status is None:
                selection.operation_status = execution.status
            if execution.error is None:
                selection.final_output = execution.text  # the API's answer, unless a final answer follows
        return str(message.content)

    # -- pipelines ----------------------------------------------------------------------
    async def _react(self, prompt: str, selection: Selection) -> None:
        scratchpad = ""
        steps = selection.intermediate_steps
        assert steps is not None  # select() starts every selection with a list
        for _ in range(MAX_STEPS):
            reply = await self._complete(REACT_PROMPT.format(input=prompt, agent_scratchpad=scratchpad,
                                                             **self._react_head), selection)
            parsed = parse_react(reply)
            if parsed is None:
                if not steps:
                    selection.note = "the agent's reply has neither an Action nor a Final Answer"
                    selection.raw_response = reply
                return
            kind, name, raw_input = parsed
            if kind == "final":
                selection.final_output = name
                if not steps:
                    selection.note = "the agent answered without calling a tool"
                    selection.raw_response = reply
                return
            operation = self._toolset.by_name.get(name)
            arguments = react_arguments(raw_input, operation)
            first = not steps
            if first:
                selection_from_tool_call(self._toolset, name, json.dumps(arguments) if arguments is not None else raw_input,
                                         selection)
            log = reply.split("\nObservation")[0]
            if self._executor is None or first and (operation is None or arguments is None):
                steps.append(_step(name, arguments if arguments is not None else raw_input, log, None))
                return
            if operation is None or arguments is None:  # a later slip: tell the agent, let it recover
                observation = f"{name} is not a tool with a JSON object input; use one of [{self._react_head['tool_names']}]"
                steps.append(_step(name, raw_input, log, observation))
            else:
                observation = await self._run_tool(name, arguments, f"react_{len(steps)}", selection)
                steps.append(_step(name, arguments, log, observation))
            scratchpad += f"{log}\nObservation: {observation}\nThought:"

    async def _tool_calling(self, prompt: str, selection: Selection) -> None:
        messages: list[Any] = [HumanMessage(content=prompt)]
        steps = selection.intermediate_steps
        assert steps is not None  # select() starts every selection with a list
        for _ in range(MAX_STEPS):
            reply: AIMessage = await self._bound.ainvoke(messages)
            self._usage(selection, reply)
            content = reply.content if isinstance(reply.content, str) else str(reply.content)
            if not reply.tool_calls and not reply.invalid_tool_calls:
                selection.final_output = content
                if not steps:
                    selection.note = "the model answered without calling a tool"
                    selection.raw_response = content
                return
            if reply.tool_calls:
                call = reply.tool_calls[0]
                name, arguments, args_text = call["name"], call["args"], json.dumps(call["args"])
            else:
                bad = reply.invalid_tool_calls[0]
                name, arguments, args_text = bad.get("name") or "", None, bad.get("args") or ""
            first = not steps
            if first:
                selection_from_tool_call(self._toolset, name, args_text, selection)
                selection.final_output = content or None
                selection.calls = ([call_from_tool_call(self._toolset, c["name"], c["args"]) for c in reply.tool_calls]
                                   + [call_from_tool_call(self._toolset, b.get("name") or "", b.get("args") or "")
                                      for b in reply.invalid_tool_calls])  # every call of the answer
            if self._executor is None or name not in self._by_name or arguments is None:
                steps.append(_step(name, arguments if arguments is not None else args_text, content, None))
                return
            call_id = reply.tool_calls[0].get("id") or f"call_{len(steps)}"
            observation = await self._run_tool(name, arguments, call_id, selection)
            steps.append(_step(name, arguments, content, observation))
            messages += [AIMessage(content=content, tool_calls=[reply.tool_calls[0]]),
                         ToolMessage(content=observation, tool_call_id=call_id)]


def _provider_error(exc: Exception, endpoint: str, calls: int) -> Exception:
    """openai / httpx errors raised through LangChain as one line, like the other providers'."""
    if isinstance(exc, ProviderError):
        return exc
    status = getattr(exc, "status_code", None)
    where = f"{endpoint}: " if endpoint else ""
    text = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
    error = ProviderError(f"{where}{type(exc).__name__}: {text}" + (" (check the API key)" if status in (401, 403) else ""), status)
    # the calls that succeeded and the one that failed
    error.attempts = calls + 1  # type: ignore[attr-defined]
    return error
