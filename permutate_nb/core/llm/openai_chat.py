"""Provider ``OpenAIChat``: any OpenAI-compatible chat-completions endpoint.

Two transports. ``http`` (the default) writes the wire format itself over one pooled
aiohttp session per base URL: measured on a 2-core machine it costs a fraction of the
client CPU per call of ``AsyncOpenAI.chat.completions.create`` (4.5 ms), and at high
concurrency client CPU is what caps throughput. ``sdk`` goes through the openai SDK for
endpoints that need its extras (Azure auth and the like). The request body is assembled
from pre-serialised pieces, so the tool schemas are never re-encoded per call.
"""

from __future__ import annotations

import json
import math
from typing import Any

import aiohttp

from ...errors import ConfigurationError, ProviderError, TransientProviderError
from ...settings import env_value, settings
from ..request.locations import normalise_url
from .base import ChatRequest, ChatResult, ToolCall, sampling_params

__all__ = ["OpenAIChatProvider", "SessionPool", "resolve_endpoint", "status_error", "DEFAULT_BASE_URL",
           "DEFAULT_MAX_RESPONSE_BYTES", "read_limited",
           "token_count"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
_RETRYABLE = {408, 409, 425, 429, 500, 502, 503, 504}
#: ``json.dumps(messages, ensure_ascii=False)`` with its encoder made once (a call's body and cache key)
_encode_messages = json.JSONEncoder(ensure_ascii=False).encode
#: the usual ``tool_choice`` values as JSON (every call's body and cache key has one)
_CHOICES = {choice: json.dumps(choice) for choice in ("auto", "none", "required")}


def resolve_endpoint(base_url: str | None, api_key_env: str | None) -> tuple[str, str | None]:
    """Base URL and API key: the request's ``llm.base_url`` / ``llm.api_key_env``, else the environment.

    A request may come from a stranger, so the environment's ``OPENAI_API_KEY`` goes only to
    the endpoint it belongs to: the default OpenAI endpoint or ``OPENAI_BASE_URL``. Any other
    ``base_url`` gets a key only through its own ``api_key_env`` (else no key: local servers
    such as vLLM, Ollama and llama.cpp usually take none). A key is required only for OpenAI.
    """
    env = settings()
    env_url = (env.openai_base_url or "").strip().rstrip("/")
    url = (base_url or env_url or DEFAULT_BASE_URL).strip().rstrip("/")
    if api_key_env:
        key = env_value(api_key_env)
        if key is None:
            raise ConfigurationError(f"llm.api_key_env names {api_key_env}, but that environment variable is not set")
        return url, key
    key = None
    if _same_endpoint(url, env_url or DEFAULT_BASE_URL):
        key = env.openai_api_key.get_secret_value() if env.openai_api_key else None
    if key is None and _same_endpoint(url, DEFAULT_BASE_URL):
        raise ConfigurationError(
            "no API key: set OPENAI_API_KEY (or llm.api_key_env), point llm.base_url at an "
            "OpenAI-compatible server, or run offline on the embedded model (--provider local; ?provider=local on start-job)"
        )
    return url, key


def _same_endpoint(a: str, b: str) -> bool:
    """Scheme and host case-insensitive, trailing slash ignored."""
    return normalise_url(a) == normalise_url(b)


def key_hint(key: str | None, url: str) -> str:
    """What to do when an endpoint answers 401/403, depending on whether a key was sent."""
    if key:
        return "check the API key"
    return (f"no key was sent to {url}: the environment's OPENAI_API_KEY goes only to OPENAI_BASE_URL or the "
            "OpenAI endpoint; name the variable holding this server's key in llm.api_key_env")


#: The largest reply read from an endpoint unless ``config.max_response_bytes`` says otherwise.
DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024


class SessionPool:
    """One aiohttp session per base URL for a job, sized to the job's concurrency.

    ``max_response_bytes`` bounds every reply read through it: a runaway or hostile server
    must fail one run, not fill the memory and the job store.
    """

    def __init__(self, limit: int, max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES) -> None:
        self._limit = limit
        self.max_response_bytes = max_response_bytes
        self._sessions: dict[str, aiohttp.ClientSession] = {}

    def get(self, base_url: str) -> aiohttp.ClientSession:
        """The session for ``base_url``, opened on first use (connecting only to addresses the DNS check passed)."""
        session = self._sessions.get(base_url)
        if session is None or session.closed:
            from ..plugins.pinned_dns import resolver  # on serve: connect only to addresses that passed its check

            connector = aiohttp.TCPConnector(limit=self._limit, limit_per_host=self._limit, ttl_dns_cache=300,
                                             resolver=resolver())
            session = aiohttp.ClientSession(connector=connector, json_serialize=json.dumps, auto_decompress=True)
            self._sessions[base_url] = session
        return session

    async def aclose(self) -> None:
        """Close every session the pool opened."""
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()


class OpenAIChatProvider:
    """Chat completions with tools over the OpenAI wire format."""

    def __init__(self, llm: Any, pool: SessionPool | None = None) -> None:
        self.base_url, self._api_key = resolve_endpoint(llm.base_url, llm.api_key_env)
        self.model = llm.model_name or "gpt-3.5-turbo"
        self.identity = f"OpenAIChat|{self.base_url}|{self.model}"
        self._transport = getattr(llm, "transport", "http")
        self._pool = pool
        self._url = f"{self.base_url}/chat/completions"
        self._headers = {"Content-Type": "application/json"}
        if self._api_key:
            self._headers["Authorization"] = f"Bearer {self._api_key}"
        params = {**sampling_params(llm), **(llm.extra_body or {})}
        self._params = params
        self._head = '{"model":' + json.dumps(self.model) + ',"messages":'
        self._tail = "".join(f",{json.dumps(k)}:{json.dumps(v)}" for k, v in sorted(params.items())) + "}"
        self._sdk_client: Any = None
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    def _body(self, request: ChatRequest, tools_text: str | None) -> str:
        parts = [self._head, _encode_messages(request.messages)]
        if tools_text is not None:
            parts += [',"tools":', tools_text]
        choice = request.tool_choice
        if choice is not None:
            known = _CHOICES.get(choice) if isinstance(choice, str) else None
            parts += [',"tool_choice":', known or json.dumps(choice)]
        if request.response_format is not None:
            parts += [',"response_format":', json.dumps(request.response_format)]
        parts.append(self._tail)
        return "".join(parts)

    def cache_payload(self, request: ChatRequest) -> str:
        """The request body with the tools' digest in place of their JSON: the same text means the same answer."""
        return self._body(request, request.tools_digest)

    async def chat(self, request: ChatRequest, timeout: float) -> ChatResult:
        """One chat-completions call, over the pooled aiohttp session or the openai SDK (the config's ``transport``)."""
        if self._transport == "sdk":
            return await self._chat_sdk(request, timeout)
        return await self._chat_http(request, timeout)

    async def _chat_http(self, request: ChatRequest, timeout: float) -> ChatResult:
        if self._pool is None:
            self._pool = SessionPool(8)
        session = self._pool.get(self.base_url)
        client_timeout = self._timeouts.get(timeout)
        if client_timeout is None:
            client_timeout = self._timeouts[timeout] = aiohttp.ClientTimeout(total=timeout)
        raw = await post_json(session, self._url, self._body(request, request.tools_json).encode(), self._headers,
                              client_timeout, self._pool.max_response_bytes)
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            raise ProviderError(f"{self._url} answered with something that is not JSON: {raw[:120]!r}") from None
        return parse_chat_response(data)

    async def _chat_sdk(self, request: ChatRequest, timeout: float) -> ChatResult:
        import openai

        if self._sdk_client is None:
            self._sdk_client = openai.AsyncOpenAI(base_url=self.base_url, api_key=self._api_key or "none", max_retries=0)
        kwargs: dict[str, Any] = dict(self._params)
        if request.tools_json is not None:
            kwargs["tools"] = json.loads(request.tools_json)
        if request.tool_choice is not None:
            kwargs["tool_choice"] = request.tool_choice
        if request.response_format is not None:
            kwargs["response_format"] = request.response_format
        standard = {"temperature", "max_tokens", "top_p", "frequency_penalty", "presence_penalty", "n", "tools", "tool_choice", "response_format"}
        extra = {k: kwargs.pop(k) for k in list(kwargs) if k not in standard}
        try:
            response = await self._sdk_client.chat.completions.create(
                model=self.model, messages=list(request.messages), timeout=timeout, extra_body=extra or None, **kwargs
            )
        except (openai.APITimeoutError, openai.APIConnectionError) as exc:
            raise TransientProviderError(f"{self._url}: {exc}") from None
        except openai.APIStatusError as exc:
            raise status_error(exc.status_code, exc.response.content, self._url, exc.response.headers.get("Retry-After"),
                               key_hint=key_hint(self._api_key, self.base_url)) from None
        return parse_chat_response(response.model_dump())

    async def aclose(self) -> None:
        """Close the openai SDK client if one was made (the session pool belongs to the job)."""
        if self._sdk_client is not None:
            await self._sdk_client.close()


async def post_json(session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str],
                    timeout: aiohttp.ClientTimeout, max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES) -> bytes:
    """POST a JSON body; the raw 200 reply, else the error classified for the retry loop."""
    try:
        async with session.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False) as resp:
            raw = await read_limited(resp, url, max_bytes)
            status, retry_after = resp.status, resp.headers.get("Retry-After")
    except TimeoutError:
        raise TransientProviderError(f"no answer from {url} within {timeout.total:g} s") from None
    except aiohttp.ClientError as exc:
        raise TransientProviderError(f"cannot reach {url}: {exc}") from None
    if status != 200:
        raise status_error(status, raw, url, retry_after, key_hint=key_hint(headers.get("Authorization"), url))
    return raw


async def read_limited(resp: aiohttp.ClientResponse, url: str, max_bytes: int) -> bytes:
    """The body, refused (``ProviderError``, not retried) once it passes ``max_bytes``."""
    declared = resp.content_length
    if declared is not None:
        if declared > max_bytes:
            raise reply_too_large(url, max_bytes)
        return await resp.read()  # aiohttp reads exactly the declared length
    chunks, size = [], 0
    async for chunk in resp.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > max_bytes:
            raise reply_too_large(url, max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def reply_too_large(url: str, max_bytes: int) -> ProviderError:
    return ProviderError(f"{url} answered with more than {max_bytes:,} bytes (config.max_response_bytes); "
                         "the reply was not read")


def parse_chat_response(data: dict[str, Any]) -> ChatResult:
    """The first choice's text and tool calls, and the usage, from a chat-completions reply."""
    try:
        message = data["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        raise ProviderError(f"the reply has no choices[0].message: {json.dumps(data)[:200]}") from None
    if not isinstance(message, dict):
        raise ProviderError(f"the reply's choices[0].message is a {type(message).__name__}, not an object: "
                            f"{json.dumps(message)[:120]}")
    calls = [_tool_call(c, i) for i, c in enumerate(message.get("tool_calls") or ()) if not isinstance(c, dict)
             or c.get("function")]
    if not calls and message.get("function_call"):  # legacy functions API
        calls = [_tool_call({"function": message["function_call"]}, 0)]
    usage = found if isinstance(found := data.get("usage"), dict) else {}
    content = message.get("content")
    model = data.get("model")
    return ChatResult(
        content=content if content is None or isinstance(content, str) else json.dumps(content),
        tool_calls=calls,
        prompt_tokens=token_count(usage.get("prompt_tokens")),
        completion_tokens=token_count(usage.get("completion_tokens")),
        model=model if isinstance(model, str) else None,
    )


def token_count(value: Any) -> int:
    """A usage count as the server gave it; anything that is not a count is 0."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return int(value) if ok else 0


def _tool_call(call: Any, index: int) -> ToolCall:
    """One tool call of a reply; a call without a function name fails the run with what it was."""
    function = call.get("function") if isinstance(call, dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    if not isinstance(name, str) or not name:
        raise ProviderError(f"the reply's tool call {index} has no function name: {json.dumps(call)[:120]}")
    assert isinstance(function, dict)  # a name was read from it
    arguments = function.get("arguments") or ""
    return ToolCall(name, arguments if isinstance(arguments, str) else json.dumps(arguments))


def status_error(status: int, raw: bytes, url: str, retry_after: str | None, *,
                 key_hint: str = "check the API key") -> ProviderError:
    """A non-200 reply as an error: retryable statuses (429, 5xx, ...) as ``TransientProviderError``."""
    detail = ""
    try:
        detail = json.loads(raw)["error"]["message"]
    except Exception:  # noqa: BLE001 - any unreadable body is fine: we show its start
        detail = raw[:200].decode("utf-8", "replace")
    message = f"{url} answered HTTP {status}: {detail}".rstrip(": ")
    if status in _RETRYABLE:
        wait = None
        if retry_after:
            try:
                wait = float(retry_after)
            except ValueError:
                wait = None
        return TransientProviderError(message, status, wait)
    if status in (401, 403):
        message += f" ({key_hint})"
    return ProviderError(message, status)
