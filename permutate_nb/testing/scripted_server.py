"""A scripted OpenAI-compatible HTTP server for tests, benchmarks and notebooks.

Why it exists: evaluating tool selection needs an LLM endpoint whose answers are known in
advance (a given tool call, malformed arguments, a 429 then success, a slow reply). A real
model is neither deterministic nor cheap, so this server replies from a *script*.

Why it is a raw ``asyncio.Protocol`` and not ``aiohttp.web``: benchmarks push ~700 req/s
through it on one core next to the code under test, so the server must cost little CPU per
request. It speaks just enough HTTP/1.1 for OpenAI clients: keep-alive, pipelining (replies
stay in order), ``Content-Length`` bodies, ``Expect: 100-continue``. Chunked request bodies
are refused with 411.

Endpoints: ``POST /v1/chat/completions``, ``POST /v1/completions`` (legacy) and
``GET /v1/models`` (the ``/v1`` prefix is optional).

Script format (a dict, e.g. loaded from YAML)::

    default: {text: "I cannot help with that."}     # a response, or a list used in sequence
    models: [scripted-model]                         # optional, for GET /v1/models
    rules:                                           # first match wins
      - match: "T shirts"                            # substring of the last user message
        responses:                                   # used in order; the last one repeats
          - {status: 429, headers: {Retry-After: "0"}}
          - {tool_call: {name: productsUsingGET, arguments: {q: "T shirt", size: 5}}}
      - match: "re:(?i)weather in \\w+"              # ``re:`` + a regex (re.search)
        responses: [{tool_call: "$first_tool"}]      # first tool of the request, args {}

A bare list is taken as ``rules``. A rule without ``match`` matches everything. A response is
one of ``{tool_call: {name, arguments}}`` (arguments: dict, or str sent verbatim),
``{tool_calls: [...]}``, ``{text: "..."}`` (may accompany a tool call as its content), or
``{status: 4xx/5xx, headers: {...}, body: {...}}``; any response may add ``delay: seconds``
and ``usage: {prompt_tokens, completion_tokens}``. On ``/v1/completions`` (matched on the
prompt) a tool call is rendered as the text ``{"name": ..., "arguments": {...}}`` with the
arguments spliced in raw.

Run it in another process with
``python -m permutate_nb.testing.scripted_server --port 0 --script s.yaml --delay 0.05``;
the first stdout line is the base URL.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import http
import json
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["ScriptedOpenAIServer", "ScriptError", "main"]

DEFAULT_REPLY = "This is a scripted reply."
DEFAULT_MODEL = "scripted-model"
FIRST_TOOL = "$first_tool"

_MAX_HEAD = 64 * 1024
_MAX_BODY = 64 * 1024 * 1024
_RESPONSE_KEYS = frozenset({"tool_call", "tool_calls", "text", "status", "headers", "body", "delay", "usage"})
_RULE_KEYS = frozenset({"match", "responses", "response"})
_SCRIPT_KEYS = frozenset({"default", "rules", "models"})

# OpenAI-style (type, code, message) for error replies whose script gives no body.
_ERROR_DEFAULTS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Bad request (scripted)."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided (scripted)."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Forbidden (scripted)."),
    404: ("invalid_request_error", "model_not_found", "Not found (scripted)."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached (scripted)."),
}


class ScriptError(ValueError):
    """The script given to the server is malformed; the message names the rule and key."""


# --------------------------------------------------------------------------------------
# Script compilation: validate once, so a bad script fails in ``set_script`` and not as an
# obscure 500 in the middle of a benchmark.
# --------------------------------------------------------------------------------------


class _Response:
    """One validated scripted response."""

    __slots__ = ("tool_calls", "text", "status", "headers", "error_body", "delay", "usage")

    def __init__(self, spec: Any, where: str) -> None:
        if not isinstance(spec, dict):
            raise ScriptError(f"{where}: a response must be a mapping, got {type(spec).__name__}")
        unknown = set(spec) - _RESPONSE_KEYS
        if unknown:
            raise ScriptError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_RESPONSE_KEYS)}")
        kinds = [k for k in ("tool_call", "tool_calls", "status") if k in spec]
        if len(kinds) > 1:
            raise ScriptError(f"{where}: use only one of {kinds}")
        if not kinds and "text" not in spec:
            raise ScriptError(f"{where}: a response needs one of tool_call, tool_calls, text or status")
        self.tool_calls: list[tuple[str, Any]] | None = None
        if "tool_call" in spec:
            self.tool_calls = [_tool_call_spec(spec["tool_call"], f"{where}.tool_call")]
        elif "tool_calls" in spec:
            calls = spec["tool_calls"]
            if not isinstance(calls, list) or not calls:
                raise ScriptError(f"{where}.tool_calls: must be a non-empty list")
            self.tool_calls = [_tool_call_spec(c, f"{where}.tool_calls[{i}]") for i, c in enumerate(calls)]
        text = spec.get("text")
        if text is not None and not isinstance(text, str):
            raise ScriptError(f"{where}.text: must be a string")
        self.text: str | None = text
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.error_body: bytes = b""
        if "status" in spec:
            status = spec["status"]
            if not isinstance(status, int) or not 400 <= status <= 599:
                raise ScriptError(f"{where}.status: must be an HTTP error status 400..599, got {status!r}")
            if "text" in spec:
                raise ScriptError(f"{where}: 'text' cannot be combined with 'status' (use body)")
            self.status = status
            headers = spec.get("headers") or {}
            if not isinstance(headers, dict):
                raise ScriptError(f"{where}.headers: must be a mapping")
            self.headers = {str(k): str(v) for k, v in headers.items()}
            self.error_body = _dumps(_error_body(status, spec.get("body")))
        elif "headers" in spec or "body" in spec:
            raise ScriptError(f"{where}: 'headers' and 'body' only apply to a 'status' response")
        delay = spec.get("delay")
        if delay is not None and (not isinstance(delay, (int, float)) or delay < 0):
            raise ScriptError(f"{where}.delay: must be a number of seconds >= 0")
        self.delay: float | None = None if delay is None else float(delay)
        usage = spec.get("usage")
        if usage is not None and not isinstance(usage, dict):
            raise ScriptError(f"{where}.usage: must be a mapping with prompt_tokens/completion_tokens")
        self.usage: dict[str, int] | None = usage


def _tool_call_spec(spec: Any, where: str) -> tuple[str, Any]:
    """Normalise a tool call to ``(name, arguments)``; ``$first_tool`` is resolved per request."""
    if spec == FIRST_TOOL:
        return FIRST_TOOL, "{}"
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise ScriptError(f"{where}: must be {{name: str, arguments: dict | str}} or {FIRST_TOOL!r}")
    unknown = set(spec) - {"name", "arguments"}
    if unknown:
        raise ScriptError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: ['arguments', 'name']")
    args = spec.get("arguments", {})
    if args is None:
        args = {}
    if not isinstance(args, (dict, str)):
        raise ScriptError(f"{where}.arguments: must be a mapping or a string (sent verbatim)")
    # Serialise dict arguments once; strings go out verbatim so tests can send broken JSON.
    return spec["name"], args if isinstance(args, str) else json.dumps(args)


def _error_body(status: int, body: Any) -> dict[str, Any]:
    """Build ``{"error": {...}}``: a body with ``error`` is kept, a dict is merged, a str is the message."""
    etype, code, message = _ERROR_DEFAULTS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None, f"HTTP {status} (scripted).")
    )
    error: dict[str, Any] = {"message": message, "type": etype, "param": None, "code": code}
    if body is None:
        return {"error": error}
    if isinstance(body, str):
        error["message"] = body
        return {"error": error}
    if isinstance(body, dict):
        if "error" in body:
            return body
        return {"error": {**error, **body}}
    raise ScriptError(f"body: must be a mapping or a string, got {type(body).__name__}")


class _Rule:
    """A compiled rule: a matcher and its responses, used in sequence."""

    __slots__ = ("key", "matches", "responses")

    def __init__(self, key: str, matches: Callable[[str], bool], responses: list[_Response]) -> None:
        self.key = key
        self.matches = matches
        self.responses = responses


def _matcher(match: Any, where: str) -> Callable[[str], bool]:
    if match is None:
        return lambda _text: True
    if not isinstance(match, str):
        raise ScriptError(f"{where}.match: must be a string (substring, or 're:' + regex)")
    if match.startswith("re:"):
        try:
            search = re.compile(match[3:]).search
        except re.error as exc:
            raise ScriptError(f"{where}.match: bad regex {match[3:]!r}: {exc}") from None
        return lambda text: search(text) is not None
    return lambda text: match in text


def _responses(spec: Any, where: str) -> list[_Response]:
    items = spec if isinstance(spec, list) else [spec]
    if not items:
        raise ScriptError(f"{where}: needs at least one response")
    return [_Response(item, f"{where}[{i}]") for i, item in enumerate(items)]


class _Script:
    """A compiled script plus its per-rule counters (replaced wholesale by ``set_script``)."""

    def __init__(self, script: Any) -> None:
        if script is None:
            script = {}
        if isinstance(script, list):
            script = {"rules": script}
        if not isinstance(script, dict):
            raise ScriptError(f"script: must be a mapping (default/rules/models) or a list of rules, got {type(script).__name__}")
        unknown = set(script) - _SCRIPT_KEYS
        if unknown:
            raise ScriptError(f"script: unknown key(s) {sorted(unknown)}; allowed: {sorted(_SCRIPT_KEYS)}")
        self.rules: list[_Rule] = []
        rules = script.get("rules") or []
        if not isinstance(rules, list):
            raise ScriptError("script.rules: must be a list")
        seen: set[str] = {"default"}
        for i, rule in enumerate(rules):
            where = f"rules[{i}]"
            if not isinstance(rule, dict):
                raise ScriptError(f"{where}: must be a mapping with match/responses")
            unknown = set(rule) - _RULE_KEYS
            if unknown:
                raise ScriptError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_RULE_KEYS)}")
            if ("responses" in rule) == ("response" in rule):
                raise ScriptError(f"{where}: give exactly one of 'responses' (list) or 'response'")
            key = rule.get("match")
            key = "*" if key is None else str(key)
            if key in seen:  # hits are keyed by match text; keep duplicates apart
                key = f"{key}#{i}"
            seen.add(key)
            spec = rule["responses"] if "responses" in rule else rule["response"]
            self.rules.append(_Rule(key, _matcher(rule.get("match"), where), _responses(spec, f"{where}.responses")))
        self.default = _Rule("default", lambda _t: True, _responses(script.get("default", {"text": DEFAULT_REPLY}), "default"))
        models = script.get("models") or [DEFAULT_MODEL]
        if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
            raise ScriptError("script.models: must be a list of model ids")
        self.models: list[str] = models
        self.counts: dict[str, int] = {}

    def pick(self, text: str) -> _Response:
        """First matching rule's next response; counts the hit. Runs on the server loop only."""
        for rule in self.rules:
            if rule.matches(text):
                break
        else:
            rule = self.default
        n = self.counts.get(rule.key, 0)
        self.counts[rule.key] = n + 1
        responses = rule.responses
        return responses[n] if n < len(responses) else responses[-1]


# --------------------------------------------------------------------------------------
# Request handling
# --------------------------------------------------------------------------------------


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _user_text(body: dict[str, Any]) -> str:
    """Content of the last user message (text parts joined), the text that rules match."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return "\n".join(
                    p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
                )
            return ""
    return ""


def _prompt_text(body: dict[str, Any]) -> str:
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list):
        return "\n".join(p for p in prompt if isinstance(p, str))
    return ""


def _first_tool(body: dict[str, Any]) -> str | None:
    tools = body.get("tools")
    if isinstance(tools, list) and tools and isinstance(tools[0], dict):
        function = tools[0].get("function")
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            return function["name"]
    functions = body.get("functions")  # legacy function calling
    if isinstance(functions, list) and functions and isinstance(functions[0], dict):
        name = functions[0].get("name")
        return name if isinstance(name, str) else None
    return None


class _Reply:
    """What a handler returns: status, extra headers, body bytes, delay override."""

    __slots__ = ("status", "headers", "body", "delay")

    def __init__(self, status: int, body: bytes, headers: dict[str, str] | None = None, delay: float | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = headers
        self.delay = delay


def _error_reply(status: int, message: str, etype: str = "invalid_request_error", code: str | None = None) -> _Reply:
    return _Reply(status, _dumps({"error": {"message": message, "type": etype, "param": None, "code": code}}))


class _Core:
    """State shared by every connection: script, recording, counters. Lives on the server loop."""

    def __init__(self, script: Any, delay: float, record: bool) -> None:
        self.script = _Script(script)
        self.delay = float(delay)
        self.record = record
        self.requests: list[dict[str, Any]] = []
        self.seq = 0

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> _Reply:
        """Route one request; never raises (a bug becomes a 500 with the exception text)."""
        try:
            return self._handle(method, path, headers, raw)
        except Exception as exc:  # noqa: BLE001 - report server bugs to the client, keep serving
            return _error_reply(500, f"scripted server error: {type(exc).__name__}: {exc}", "server_error")

    def _handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> _Reply:
        path = path.partition("?")[0]
        route = path[3:] if path.startswith("/v1/") else path
        body: Any = None
        bad_json = False
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                bad_json = True
        if self.record:
            self.requests.append({"method": method, "path": path, "headers": headers, "json": body})
        if route == "/models":
            if method != "GET":
                return _error_reply(405, f"method {method} not allowed on {path}")
            created = int(time.time())
            data = [{"id": m, "object": "model", "created": created, "owned_by": "scripted"} for m in self.script.models]
            return _Reply(200, _dumps({"object": "list", "data": data}))
        if route not in ("/chat/completions", "/completions"):
            return _error_reply(404, f"unknown path {path}; served: /v1/chat/completions, /v1/completions, /v1/models")
        if method != "POST":
            return _error_reply(405, f"method {method} not allowed on {path}")
        if bad_json or not isinstance(body, dict):
            return _error_reply(400, "request body must be a JSON object")
        if body.get("stream"):
            return _error_reply(400, "stream=true is not supported by the scripted server")
        chat = route == "/chat/completions"
        script = self.script
        response = script.pick(_user_text(body) if chat else _prompt_text(body))
        delay = self.delay if response.delay is None else response.delay
        if response.status is not None:
            return _Reply(response.status, response.error_body, response.headers, delay)
        self.seq += 1
        seq = self.seq
        calls: list[dict[str, Any]] | None = None
        if response.tool_calls is not None:
            calls = []
            for i, (name, arguments) in enumerate(response.tool_calls):
                if name == FIRST_TOOL:
                    name = _first_tool(body)
                    if name is None:
                        return _Reply(400, _dumps({"error": {
                            "message": "script asked for $first_tool but the request has no tools",
                            "type": "invalid_request_error", "param": "tools", "code": None}}), None, delay)
                calls.append({"id": f"call_{seq:08d}{i:02d}", "type": "function",
                              "function": {"name": name, "arguments": arguments}})
        usage = response.usage or {}
        prompt_tokens = int(usage.get("prompt_tokens", len(raw) // 4))
        completion_tokens = int(usage.get("completion_tokens", 10))
        usage_out = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                     "total_tokens": prompt_tokens + completion_tokens}
        model = body.get("model") if isinstance(body.get("model"), str) else script.models[0]
        created = int(time.time())
        if chat:
            message: dict[str, Any] = {"role": "assistant", "content": response.text, "refusal": None}
            if calls:
                message["tool_calls"] = calls
            out = {"id": f"chatcmpl-scripted{seq}", "object": "chat.completion", "created": created, "model": model,
                   "choices": [{"index": 0, "message": message, "logprobs": None,
                                "finish_reason": "tool_calls" if calls else "stop"}],
                   "usage": usage_out, "system_fingerprint": None}
        else:
            if calls:
                # Prompt-based tool selection reads the call out of the text; arguments are
                # spliced in raw so a verbatim (malformed) string stays malformed.
                rendered = [f'{{"name": {json.dumps(c["function"]["name"])}, "arguments": {c["function"]["arguments"]}}}'
                            for c in calls]
                text = rendered[0] if len(rendered) == 1 else "[" + ", ".join(rendered) + "]"
                if response.text:
                    text = response.text + text
            else:
                text = response.text or ""
            out = {"id": f"cmpl-scripted{seq}", "object": "text_completion", "created": created, "model": model,
                   "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": "stop"}],
                   "usage": usage_out}
        return _Reply(200, _dumps(out), None, delay)


# --------------------------------------------------------------------------------------
# HTTP/1.1 protocol
# --------------------------------------------------------------------------------------


def _head(status: int, length: int, headers: dict[str, str] | None, close: bool) -> bytes:
    try:
        reason = http.HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    lines = [f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n"]
    if headers:
        lines.extend(f"{k}: {v}\r\n" for k, v in headers.items())
    if close:
        lines.append("Connection: close\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("latin-1")


class _Slot:
    """A reply waiting for its delay; replies leave in request order (HTTP pipelining)."""

    __slots__ = ("data", "ready", "close")

    def __init__(self, data: bytes, close: bool) -> None:
        self.data = data
        self.ready = False
        self.close = close


class _HTTPProtocol(asyncio.Protocol):
    """Minimal HTTP/1.1: keep-alive, Content-Length bodies, ordered delayed replies via call_later."""

    def __init__(self, core: _Core, connections: set[_HTTPProtocol]) -> None:
        self.core = core
        self.connections = connections
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.pending_head: tuple[str, str, dict[str, str], bool] | None = None
        self.need = 0
        self.sent_continue = False
        self.queue: collections.deque[_Slot] = collections.deque()
        self.closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.connections.discard(self)
        self.transport = None
        self.queue.clear()

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        buf = self.buf
        buf += data
        while True:
            if self.pending_head is None:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(buf) > _MAX_HEAD:
                        self._fail(431, "request headers too large")
                    return
                if not self._parse_head(bytes(buf[:end])):
                    return
                del buf[: end + 4]
            if len(buf) < self.need:
                if not self.sent_continue and self.pending_head is not None and self.pending_head[2].get("expect", "").lower() == "100-continue":
                    self.sent_continue = True
                    if self.transport is not None:
                        self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                return
            body = bytes(buf[: self.need])
            del buf[: self.need]
            method, path, headers, keep_alive = self.pending_head  # type: ignore[misc]
            self.pending_head = None
            self.need = 0
            self.sent_continue = False
            reply = self.core.handle(method, path, headers, body)
            self._send(reply, not keep_alive)
            if not keep_alive or self.closing:
                return

    def _parse_head(self, head: bytes) -> bool:
        """Parse request line and headers into ``pending_head``; False if the connection failed."""
        lines = head.decode("latin-1").split("\r\n")
        while lines and not lines[0]:  # tolerate stray CRLF between requests
            lines.pop(0)
        parts = lines[0].split(" ") if lines else []
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self._fail(400, "malformed request line")
            return False
        method, path, version = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                self._fail(400, "malformed header line")
                return False
            headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._fail(411, "chunked request bodies are not supported; send Content-Length")
            return False
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            length = -1
        if not 0 <= length <= _MAX_BODY:
            self._fail(400, "bad Content-Length")
            return False
        connection = headers.get("connection", "").lower()
        keep_alive = "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
        self.pending_head = (method, path, headers, keep_alive)
        self.need = length
        return True

    def _send(self, reply: _Reply, close: bool) -> None:
        data = _head(reply.status, len(reply.body), reply.headers, close) + reply.body
        delay = reply.delay or 0.0
        if close:
            self.closing = True
        if delay <= 0 and not self.queue:
            self._write(data, close)
            return
        slot = _Slot(data, close)
        self.queue.append(slot)
        if delay <= 0:
            slot.ready = True
            self._flush()
        else:
            asyncio.get_running_loop().call_later(delay, self._ready, slot)

    def _ready(self, slot: _Slot) -> None:
        slot.ready = True
        self._flush()

    def _flush(self) -> None:
        queue = self.queue
        while queue and queue[0].ready:
            slot = queue.popleft()
            self._write(slot.data, slot.close)

    def _write(self, data: bytes, close: bool) -> None:
        transport = self.transport
        if transport is None:
            return
        transport.write(data)
        if close:
            self.queue.clear()
            transport.close()

    def _fail(self, status: int, message: str) -> None:
        """Protocol-level error: answer once (after queued replies) and close."""
        self.pending_head = None
        self.buf.clear()
        self._send(_error_reply(status, message), True)


# --------------------------------------------------------------------------------------
# Public server
# --------------------------------------------------------------------------------------


class ScriptedOpenAIServer:
    """A scripted OpenAI-compatible server on its own event loop in a daemon thread.

    ``requests`` holds ``{"method", "path", "headers", "json"}`` per request when ``record``
    is true; ``hits`` counts requests per rule (keyed by the rule's ``match`` text, or
    ``"default"``). ``delay`` and ``record`` may be changed while running.
    """

    def __init__(
        self,
        script: dict[str, Any] | list[Any] | None = None,
        *,
        delay: float = 0.0,
        record: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._core = _Core(script, delay, record)
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[_HTTPProtocol] = set()
        self._lock = threading.Lock()

    # -- configuration, callable from any thread -------------------------------------------

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("server not started; call start() first")
        return f"http://{self.host}:{self.port}/v1"

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self._core.requests

    @property
    def hits(self) -> dict[str, int]:
        """A snapshot of hits per rule key (``match`` text; ``"default"`` for no match)."""
        return dict(self._core.script.counts)

    @property
    def delay(self) -> float:
        return self._core.delay

    @delay.setter
    def delay(self, value: float) -> None:
        self._core.delay = float(value)

    @property
    def record(self) -> bool:
        return self._core.record

    @record.setter
    def record(self, value: bool) -> None:
        self._core.record = bool(value)

    def set_script(self, script: dict[str, Any] | list[Any] | None) -> None:
        """Replace the script (validated first, raising ScriptError) and reset the rule counters."""
        compiled = _Script(script)
        with self._lock:
            self._core.script = compiled  # a single assignment: the loop sees old or new, never half

    def reset(self) -> None:
        """Forget recorded requests and rule counters; the script stays."""
        with self._lock:
            self._core.requests.clear()
            self._core.script.counts = {}

    # -- lifecycle --------------------------------------------------------------------------

    async def start_async(self) -> ScriptedOpenAIServer:
        """Listen on the running loop (for callers that already own an event loop)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _HTTPProtocol(self._core, self._connections), self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop_async(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for conn in list(self._connections):
            if conn.transport is not None:
                conn.transport.close()
        await server.wait_closed()

    def start(self) -> ScriptedOpenAIServer:
        """Serve from a daemon thread with its own loop; returns once listening."""
        if self._thread is not None:
            raise RuntimeError("server already started")
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.stop_async())
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name=f"scripted-openai-{id(self):x}", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            self._loop = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Stop serving and join the thread; safe to call twice."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._thread = None
        self._loop = None

    def __enter__(self) -> ScriptedOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.base_url if self._server is not None else "not started"
        return f"<ScriptedOpenAIServer {where} rules={len(self._core.script.rules)}>"


# --------------------------------------------------------------------------------------
# CLI: for benchmarks and notebooks that want the server in a separate process
# --------------------------------------------------------------------------------------


def _load_script(path: str) -> Any:
    """YAML or JSON (JSON is YAML) from a file; ``-`` reads stdin."""
    import yaml  # local import: only the CLI needs it

    try:
        if path == "-":
            return yaml.safe_load(sys.stdin)
        with open(path, encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise ScriptError(f"{path}: not valid YAML/JSON: {exc}") from None


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT; the first stdout line is the base URL."""
    parser = argparse.ArgumentParser(prog="python -m permutate_nb.testing.scripted_server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--script", help="YAML/JSON script file (default: a text reply to everything)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each reply (default 0)")
    args = parser.parse_args(argv)
    try:
        script = _load_script(args.script) if args.script else None
        # Nobody can read ``requests`` from outside the process, so keep memory flat.
        server = ScriptedOpenAIServer(script, delay=args.delay, record=False, host=args.host, port=args.port)
    except (OSError, ValueError) as exc:
        print(f"scripted_server: {exc}", file=sys.stderr)
        return 2

    async def serve() -> None:
        await server.start_async()
        print(server.base_url, flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):  # e.g. Windows
                pass
        await stop.wait()
        await server.stop_async()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"scripted_server: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
