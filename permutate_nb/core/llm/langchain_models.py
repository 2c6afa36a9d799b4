"""LangChain models for a permutation's LLM, on the engine's one call path, with per-run accounting.

- ``OpenAIChat`` -> langchain-openai's ``ChatOpenAI`` on the endpoint the OpenAIChat provider
  would use (``resolve_endpoint``), with the job's timeout. ``max_tokens`` goes in
  ``extra_body``: ChatOpenAI sends ``max_completion_tokens``, which llama.cpp's server ignores.
- ``OpenAI`` (legacy completions) -> langchain-openai's ``OpenAI`` (text agents only).
- ``local`` -> ``ClientChatModel``, a small LangChain chat model over the engine's
  ``LLMClient`` for the local provider (cache, turn-taking, schema-constrained tool calls).

ChatOpenAI and OpenAI send their HTTP requests through ``CallPathTransport``: the engine's
``CallPath`` (response cache, one retry policy), keyed with the run's repeat index like every
other call; their own retries and LangChain's cache are off. ``RunStats`` (a context variable
set by the selector for one run) collects what the row needs: the repeat index, cache hits,
and time spent waiting for the local model.

Import this module only when a LangChain permutation runs: it imports langchain-core.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, convert_to_openai_messages
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict

from ...errors import TransientProviderError
from ..request.models import JobConfig, LLMConfig
from .base import ChatRequest
from .client import CallPath, LLMClient
from .openai_chat import resolve_endpoint, status_error

__all__ = ["RunStats", "current_run", "start_run", "end_run", "build_langchain_model", "CallPathTransport",
           "ClientChatModel"]


@dataclass(slots=True)
class RunStats:
    """What one LangChain run counts as it goes: its repeat index (part of cache keys), cache hits, time queued."""

    repeat: int = 0
    cache_hits: int = 0
    queued: float = 0.0  # seconds spent waiting for a turn at an in-process model


_RUN: contextvars.ContextVar[RunStats | None] = contextvars.ContextVar("permutate_run", default=None)


def current_run() -> RunStats | None:
    """The stats of the run this task is inside, or None outside a run."""
    return _RUN.get()


def start_run(repeat: int) -> tuple[RunStats, contextvars.Token[RunStats | None]]:
    """Stats for one run, visible to the cache and the models called inside it."""
    stats = RunStats(repeat)
    return stats, _RUN.set(stats)


def end_run(token: contextvars.Token[RunStats | None]) -> None:
    """Leave the run ``start_run`` entered (restores the context variable)."""
    _RUN.reset(token)


class _RetryableReply(TransientProviderError):
    """A retryable failure that keeps what the server sent (the response) or raised (the error)."""

    def __init__(self, error: TransientProviderError, *, response: httpx.Response | None = None,
                 raised: Exception | None = None) -> None:
        super().__init__(str(error), error.status, error.retry_after)
        self.response, self.raised = response, raised


class _Uncached(Exception):
    """A final non-200 reply: handed to the SDK as it is, never cached."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response


class CallPathTransport(httpx.AsyncBaseTransport):
    """The openai SDK's POSTs (under LangChain) on the engine's ``CallPath``.

    An answer in the cache comes back without a request; otherwise the request is sent with
    the engine's retry policy (429, 5xx, timeouts, dropped connections; ``Retry-After``) and
    a 200 answer is cached at once. When the retries run out, the last reply (or transport
    error) goes to the SDK, which reports it as usual.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, path: CallPath) -> None:
        self._inner, self._path = inner, path

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """POSTs through the cache and retries; other requests (none expected) go straight to the inner transport."""
        if request.method != "POST":
            return await self._inner.handle_async_request(request)
        body = (await request.aread()).decode("utf-8", "replace")
        stats = current_run()
        key = self._path.key(f"langchain|{request.url}", body, stats.repeat if stats else 0)
        hit = self._path.cached(key)
        if hit is not None:
            if stats is not None:
                stats.cache_hits += 1
            return httpx.Response(200, headers={"content-type": "application/json"}, content=hit["body"].encode(),
                                  request=request)
        try:
            response, _ = await self._path.fetch(key, lambda: self._send(request), _cached_body)
        except _Uncached as exc:
            return exc.response
        except _RetryableReply as exc:
            if exc.response is not None:
                return exc.response
            raise exc.raised or exc  # noqa: B904 - the provider's own error, as the caller would see it
        return response

    async def _send(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        try:
            response = await self._inner.handle_async_request(request)
        except httpx.TransportError as exc:
            raise _RetryableReply(TransientProviderError(f"cannot reach {url}: {exc}"), raised=exc) from None
        if response.status_code == 200:
            return response
        error = status_error(response.status_code, response.content, url, response.headers.get("Retry-After"))
        if isinstance(error, TransientProviderError):
            raise _RetryableReply(error, response=response)
        raise _Uncached(response)

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self._inner.aclose()


def _cached_body(response: httpx.Response) -> dict[str, Any]:
    return {"body": response.content.decode("utf-8", "replace")}


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
        """Bind ``tools`` as OpenAI tool schemas, which ``_agenerate`` passes on to the client."""
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


def build_langchain_model(llm: LLMConfig, config: JobConfig, *, client: LLMClient | None, http: Any = None) -> Any:
    """The LangChain model for ``llm``: ChatOpenAI, OpenAI (completions) or the local model's wrapper.

    ``http`` is the job's ``httpx.AsyncClient`` over ``CallPathTransport``: the cache and the
    retries are there (and without it langchain-openai shares one client per process, bound
    to the first job's event loop: "Event loop is closed" later).
    """
    if llm.provider == "local":
        if client is None:
            raise ValueError("the local model runs through the job's LLMClient")
        return ClientChatModel(client=client, model_name=llm.model_name or "local")
    base_url, key = resolve_endpoint(llm.base_url, llm.api_key_env)
    kwargs: dict[str, Any] = {
        "base_url": base_url, "api_key": key or "none", "timeout": config.timeout_sec,
        "max_retries": 0, "cache": False,  # the call path caches and retries
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
