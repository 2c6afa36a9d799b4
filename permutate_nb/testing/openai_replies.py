"""OpenAI-shaped replies from a script: the scripted server's logic, without its HTTP layer.

Why apart from the server: what a request gets back (which rule, which JSON, which delay) is
plain data in, plain data out, so it reads and changes without any event loop or socket. The
server (:mod:`permutate_nb.testing.scripted_server`) only routes requests here and sends the
:class:`Reply` after its delay.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from typing import Any

import orjson

from permutate_nb.testing.openai_script import FIRST_TOOL, Script, ScriptedResponse, dumps

__all__ = ["Replies", "Reply", "error_reply"]


class Reply:
    """What the server sends: status, body bytes, extra headers, and the delay before it."""

    __slots__ = ("body", "delay", "headers", "status")

    def __init__(self, status: int, body: bytes, headers: dict[str, str] | None = None, delay: float = 0.0) -> None:
        self.status = status
        self.body = body
        self.headers = headers
        self.delay = delay


def error_reply(status: int, message: str, etype: str = "invalid_request_error", code: str | None = None,
                param: str | None = None, delay: float = 0.0) -> Reply:
    """An OpenAI-style ``{"error": {...}}`` reply, so SDKs raise their usual exception types."""
    return Reply(status, dumps({"error": {"message": message, "type": etype, "param": param, "code": code}}), None, delay)


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
    """The legacy completions prompt (a list is joined), the text that rules match there."""
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list):
        return "\n".join(p for p in prompt if isinstance(p, str))
    return ""


def _first_tool(body: dict[str, Any]) -> str | None:
    """Name of the request's first tool (or legacy function), for ``$first_tool``."""
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


class Replies:
    """The server's state (script, delay, recording, counters) and one method per endpoint.

    Every method runs on the server's loop only, so nothing here needs a lock; ``script`` is
    swapped whole by one assignment from other threads. No method raises: a bug in this code
    becomes a 500 naming the exception, and the server keeps serving.
    """

    def __init__(self, script: Any, delay: float, record: bool) -> None:
        self.script = Script(script)
        self.delay = float(delay)
        self.record = record
        self.requests: list[dict[str, Any]] = []
        self.seq = 0

    def answer(self, method: str, path: str, headers: Mapping[str, str], raw: bytes) -> Reply:
        """Route one request by path (``/v1`` optional); never raises (a bug becomes a 500 naming it)."""
        try:
            return self._answer(method, path, headers, raw)
        except Exception as exc:  # noqa: BLE001 - report server bugs to the client, keep serving
            return error_reply(500, f"scripted server error: {type(exc).__name__}: {exc}", "server_error")

    def _answer(self, method: str, path: str, headers: Mapping[str, str], raw: bytes) -> Reply:
        route = path[3:] if path.startswith("/v1/") else path
        body: Any = None
        bad_json = False
        if raw:
            try:
                body = orjson.loads(raw)  # a few times faster than json on the engine's requests
            except orjson.JSONDecodeError:
                try:  # what only the standard decoder takes (NaN, UTF-16, a huge integer)
                    body = json.loads(raw)
                except ValueError:
                    bad_json = True
        if self.record:  # header names lower-cased, as HTTP/2 and most logs show them
            self.requests.append({"method": method, "path": path,
                                  "headers": {k.lower(): v for k, v in headers.items()}, "json": body})
        if route == "/models":
            if method != "GET":
                return error_reply(405, f"method {method} not allowed on {path}")
            created = int(time.time())
            data = [{"id": m, "object": "model", "created": created, "owned_by": "scripted"} for m in self.script.models]
            return Reply(200, dumps({"object": "list", "data": data}))
        if route not in ("/chat/completions", "/completions"):
            return error_reply(404, f"unknown path {path}; served: /v1/chat/completions, /v1/completions, /v1/models")
        if method != "POST":
            return error_reply(405, f"method {method} not allowed on {path}")
        if bad_json or not isinstance(body, dict):
            return error_reply(400, "request body must be a JSON object")
        if body.get("stream"):
            return error_reply(400, "stream=true is not supported by the scripted server")
        return self._completion(body, len(raw), route == "/chat/completions")

    def _completion(self, body: dict[str, Any], size: int, chat: bool) -> Reply:
        """The script's next response as a chat completion (``chat``) or a legacy text completion.

        A reply's JSON is encoded once per response, model and ``$first_tool`` name, with stand-in
        numbers where its id, time and token counts go; each request fills them in (bytes
        replacements), so a benchmark's server spends no time encoding JSON."""
        script = self.script
        response = script.pick(_user_text(body) if chat else _prompt_text(body))
        delay = math.inf if response.hold else self.delay if response.delay is None else response.delay
        if response.status is not None:
            return Reply(response.status, response.error_body, response.headers, delay)
        self.seq += 1
        first = None
        if response.tool_calls is not None and any(name == FIRST_TOOL for name, _ in response.tool_calls):
            first = _first_tool(body)
            if first is None:
                return error_reply(400, "script asked for $first_tool but the request has no tools",
                                   param="tools", delay=delay)
        usage = response.usage or {}
        prompt_tokens = int(usage.get("prompt_tokens", size // 4))
        completion_tokens = int(usage.get("completion_tokens", 10))
        asked = body.get("model")
        model: str = asked if isinstance(asked, str) else script.models[0]
        key = (chat, model, first)
        templates = response.templates
        if key not in templates:
            templates[key] = _template(response, chat, model, first, completion_tokens)
        template = templates[key]
        created = int(time.time())
        if template is None:  # the script's own text holds a stand-in number
            return Reply(200, _reply_json(response, chat, model, first, self.seq, created, prompt_tokens,
                                          completion_tokens, prompt_tokens + completion_tokens), None, delay)
        return Reply(200, _fill(template, self.seq, created, prompt_tokens, prompt_tokens + completion_tokens),
                     None, delay)


# Stand-ins for a reply's per-request numbers in its template (see ``Replies._completion``).
_SEQ, _CREATED, _PROMPT, _TOTAL = 987654321, 1234567890123, 918273645, 564738291


def _reply_json(response: ScriptedResponse, chat: bool, model: str, first: str | None, seq: int, created: int,
                prompt_tokens: int, completion_tokens: int, total_tokens: int) -> bytes:
    """The reply to one request, as OpenAI shapes it."""
    calls: list[dict[str, Any]] | None = None
    if response.tool_calls is not None:
        calls = [{"id": f"call_{seq:08d}{i:02d}", "type": "function",
                  "function": {"name": first if scripted == FIRST_TOOL else scripted, "arguments": arguments}}
                 for i, (scripted, arguments) in enumerate(response.tool_calls)]
    usage_out = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                 "total_tokens": total_tokens}
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
    return dumps(out)


def _template(response: ScriptedResponse, chat: bool, model: str, first: str | None,
              completion_tokens: int) -> bytes | None:
    """The reply with stand-in numbers, or None when a stand-in also occurs in the script's own text."""
    template = _reply_json(response, chat, model, first, _SEQ, _CREATED, _PROMPT, completion_tokens, _TOTAL)
    ids = len(response.tool_calls or ()) if chat else 0
    expected = {str(_SEQ): 1 + ids, f"_{_SEQ}": ids, str(_CREATED): 1, str(_PROMPT): 1, str(_TOTAL): 1}
    return template if all(template.count(k.encode()) == n for k, n in expected.items()) else None


def _fill(template: bytes, seq: int, created: int, prompt_tokens: int, total_tokens: int) -> bytes:
    """A template's stand-ins replaced by this request's numbers (the same bytes ``_reply_json`` makes)."""
    return (template.replace(b"_%d" % _SEQ, b"_%08d" % seq).replace(b"%d" % _SEQ, b"%d" % seq)
            .replace(b"%d" % _CREATED, b"%d" % created)
            .replace(b"%d" % _PROMPT, b"%d" % prompt_tokens).replace(b"%d" % _TOTAL, b"%d" % total_tokens))
