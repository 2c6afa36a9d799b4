"""LangChain models for a permutation's LLM, sharing the engine's cache and per-run accounting.

- ``OpenAIChat`` -> langchain-openai's ``ChatOpenAI`` on the endpoint the OpenAIChat provider
  would use (``resolve_endpoint``), with the job's timeout and retries. ``max_tokens`` goes in
  ``extra_body``: ChatOpenAI sends ``max_completion_tokens``, which llama.cpp's server ignores.
- ``OpenAI`` (legacy completions) -> langchain-openai's ``OpenAI`` (text agents only).
- ``local`` -> ``ClientChatModel``, a small LangChain chat model over the engine's
  ``LLMClient`` for the local provider (cache, turn-taking, schema-constrained tool calls).

Answers from ChatOpenAI/OpenAI are cached in the engine's response cache through
``EngineCache`` (a LangChain ``BaseCache``), keyed with the run's repeat index like every
other call. ``RunStats`` (a context variable set by the selector for one run) collects what
the row needs: the repeat index, cache hits, and time spent waiting for the local model.

Import this module only when a LangChain permutation runs: it imports langchain-core.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any, Sequence

from langchain_core.caches import BaseCache
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, convert_to_openai_messages, message_to_dict, messages_from_dict
from langchain_core.outputs import ChatGeneration, ChatResult, Generation
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict

from ..cache import ResponseCache, cache_key
from ..request import JobConfig, LLMConfig
from .base import ChatRequest
from .client import LLMClient
from .openai_chat import resolve_endpoint

__all__ = ["RunStats", "current_run", "start_run", "end_run", "build_langchain_model", "EngineCache", "ClientChatModel"]


@dataclass(slots=True)
class RunStats:
    repeat: int = 0
    cache_hits: int = 0
    queued: float = 0.0  # seconds spent waiting for a turn at an in-process model


_RUN: contextvars.ContextVar[RunStats | None] = contextvars.ContextVar("permutate_run", default=None)


def current_run() -> RunStats | None:
    return _RUN.get()


def start_run(repeat: int) -> tuple[RunStats, contextvars.Token[RunStats | None]]:
    """Stats for one run, visible to the cache and the models called inside it."""
    stats = RunStats(repeat)
    return stats, _RUN.set(stats)


def end_run(token: contextvars.Token[RunStats | None]) -> None:
    _RUN.reset(token)


class EngineCache(BaseCache):
    """LangChain's cache interface over the engine's SQLite response cache."""

    def __init__(self, cache: ResponseCache, identity: str) -> None:
        self._cache = cache
        self._identity = identity

    def _key(self, prompt: str, llm_string: str) -> str:
        stats = current_run()
        return cache_key(f"{self._identity}|{llm_string}", prompt, stats.repeat if stats else 0)

    def lookup(self, prompt: str, llm_string: str) -> Any:
        hit = self._cache.get(self._key(prompt, llm_string))
        if hit is None:
            return None
        stats = current_run()
        if stats is not None:
            stats.cache_hits += 1
        return [
            ChatGeneration(message=messages_from_dict([g["message"]])[0], generation_info=g.get("info"))
            if "message" in g else Generation(text=g["text"], generation_info=g.get("info"))
            for g in hit["generations"]
        ]

    def update(self, prompt: str, llm_string: str, return_val: Sequence[Any]) -> None:
        generations = [
            {"message": message_to_dict(g.message), "info": g.generation_info}
            if isinstance(g, ChatGeneration) else {"text": g.text, "info": g.generation_info}
            for g in return_val
        ]
        self._cache.put(self._key(prompt, llm_string), {"generations": generations})

    async def alookup(self, prompt: str, llm_string: str) -> Any:
        return self.lookup(prompt, llm_string)  # a point look-up: no thread hop needed

    async def aupdate(self, prompt: str, llm_string: str, return_val: Sequence[Any]) -> None:
        self.update(prompt, llm_string, return_val)

    def clear(self, **kwargs: Any) -> None:
        return None


def _plain_messages(messages: Sequence[Any]) -> tuple[dict[str, Any], ...]:
    """OpenAI-style messages that a chat template without tool roles can render."""
    out = []
    for m in convert_to_openai_messages(list(messages)):
        content = m.get("content")
        if isinstance(content, list):
            content = "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
        if m["role"] == "tool":
            out.append({"role": "user", "content": f"Tool result:\n{content}"})
        elif m["role"] == "assistant" and m.get("tool_calls"):
            call = m["tool_calls"][0]["function"]
            out.append({"role": "assistant", "content": json.dumps(
                {"name": call["name"], "arguments": json.loads(call["arguments"] or "{}")})})
        else:
            out.append({"role": m["role"], "content": content or ""})
    return tuple(out)


class ClientChatModel(BaseChatModel):
    """A LangChain chat model over an ``LLMClient`` (used for the in-process local model).

    The local provider decodes tool calls under a schema, so with tools it always calls
    one; after a tool result the tools are left out, so that the model can write its answer.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)
    client: Any
    model_name: str = "local"

    @property
    def _llm_type(self) -> str:
        return "permutate-llm-client"

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any) -> Any:
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], tool_choice=tool_choice, **kwargs)

    def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> Any:
        raise NotImplementedError("ClientChatModel is async only: use ainvoke")

    async def _agenerate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> Any:
        tools = kwargs.get("tools")
        if tools and messages and getattr(messages[-1], "type", "") == "tool":
            tools = None
        tools_json = json.dumps(tools, sort_keys=True, separators=(",", ":")) if tools else None
        request = ChatRequest(
            messages=_plain_messages(messages),
            tools_json=tools_json,
            tools_digest=hashlib.sha256(tools_json.encode()).hexdigest() if tools_json else None,
            tool_choice=kwargs.get("tool_choice") if tools_json else None,
        )
        stats = current_run()
        started = time.perf_counter()
        outcome = await self.client.chat(request, repeat=stats.repeat if stats else 0)
        if stats is not None:
            stats.queued += max(0.0, time.perf_counter() - started - outcome.elapsed)
            stats.cache_hits += outcome.cached
        result = outcome.result
        calls, invalid = [], []
        for i, call in enumerate(result.tool_calls):
            try:
                args = json.loads(call.arguments) if call.arguments.strip() else {}
            except ValueError:
                args = None
            if isinstance(args, dict):
                calls.append({"name": call.name, "args": args, "id": f"call_{i}", "type": "tool_call"})
            else:
                invalid.append({"name": call.name, "args": call.arguments, "id": f"call_{i}",
                                "error": "arguments are not a JSON object", "type": "invalid_tool_call"})
        message = AIMessage(
            content=result.content or "", tool_calls=calls, invalid_tool_calls=invalid,
            usage_metadata={"input_tokens": result.prompt_tokens, "output_tokens": result.completion_tokens,
                            "total_tokens": result.prompt_tokens + result.completion_tokens},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])


def build_langchain_model(
    llm: LLMConfig, config: JobConfig, *, cache: ResponseCache | None, client: LLMClient | None, http: Any = None
) -> Any:
    """The LangChain model for ``llm``: ChatOpenAI, OpenAI (completions) or the local model's wrapper.

    ``http`` is the job's ``httpx.AsyncClient``: without it langchain-openai shares one
    client per process, bound to the first job's event loop ("Event loop is closed" later).
    """
    if llm.provider == "local":
        if client is None:
            raise ValueError("the local model runs through the job's LLMClient")
        return ClientChatModel(client=client, model_name=llm.model_name or "local")
    base_url, key = resolve_endpoint(llm.base_url, llm.api_key_env)
    kwargs: dict[str, Any] = {
        "base_url": base_url, "api_key": key or "none", "timeout": config.timeout_sec, "max_retries": config.max_retries,
        "cache": EngineCache(cache, f"langchain|{llm.provider}") if cache is not None else False,
        "http_async_client": http,
    }
    for name in ("temperature", "top_p", "frequency_penalty", "presence_penalty"):
        if getattr(llm, name) is not None:
            kwargs[name] = getattr(llm, name)
    extra = dict(llm.extra_body or {})
    if llm.provider == "OpenAI":
        from langchain_openai import OpenAI

        if llm.best_of is not None:
            kwargs["best_of"] = llm.best_of
        if llm.max_tokens is not None:
            kwargs["max_tokens"] = llm.max_tokens  # the completions endpoint takes max_tokens as is
        return OpenAI(model=llm.model_name or "gpt-3.5-turbo-instruct", extra_body=extra or None, **kwargs)
    from langchain_openai import ChatOpenAI

    if llm.max_tokens is not None:
        extra.setdefault("max_tokens", llm.max_tokens)
    return ChatOpenAI(model=llm.model_name or "gpt-3.5-turbo", extra_body=extra or None, **kwargs)
