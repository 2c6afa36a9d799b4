"""The script format of the scripted OpenAI server: validated once, then picked from per request.

Why a separate module: the format (rules, responses, errors) is independent of the HTTP layer,
and compiling it up front makes a bad script fail in ``set_script`` with a message naming the
rule and key, not as an obscure 500 in the middle of a benchmark. The format itself is
described in :mod:`permutate_nb.testing.scripted_server`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

__all__ = ["DEFAULT_MODEL", "DEFAULT_REPLY", "FIRST_TOOL", "Script", "ScriptError", "ScriptedResponse", "dumps"]

DEFAULT_REPLY = "This is a scripted reply."
DEFAULT_MODEL = "scripted-model"
FIRST_TOOL = "$first_tool"

_RESPONSE_KEYS = frozenset({"tool_call", "tool_calls", "text", "status", "headers", "body", "delay", "hold", "usage"})
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


class ScriptedResponse:
    """One validated scripted response."""

    __slots__ = ("delay", "error_body", "headers", "hold", "status", "templates", "text", "tool_calls", "usage")

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
            self.error_body = dumps(_error_body(status, spec.get("body")))
        elif "headers" in spec or "body" in spec:
            raise ScriptError(f"{where}: 'headers' and 'body' only apply to a 'status' response")
        delay = spec.get("delay")
        if delay is not None and (not isinstance(delay, (int, float)) or delay < 0):
            raise ScriptError(f"{where}.delay: must be a number of seconds >= 0")
        self.delay: float | None = None if delay is None else float(delay)
        hold = spec.get("hold", False)
        if not isinstance(hold, bool):
            raise ScriptError(f"{where}.hold: must be true or false")
        self.hold = hold
        usage = spec.get("usage")
        if usage is not None and not isinstance(usage, dict):
            raise ScriptError(f"{where}.usage: must be a mapping with prompt_tokens/completion_tokens")
        self.usage: dict[str, int] | None = usage
        # the reply's JSON with its per-request numbers left out, per (chat, model, first tool): see Replies
        self.templates: dict[tuple[bool, str, str | None], bytes | None] = {}


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

    def __init__(self, key: str, matches: Callable[[str], bool], responses: list[ScriptedResponse]) -> None:
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


def _responses(spec: Any, where: str) -> list[ScriptedResponse]:
    items = spec if isinstance(spec, list) else [spec]
    if not items:
        raise ScriptError(f"{where}: needs at least one response")
    return [ScriptedResponse(item, f"{where}[{i}]") for i, item in enumerate(items)]


class Script:
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

    def pick(self, text: str) -> ScriptedResponse:
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


def dumps(obj: Any) -> bytes:
    """Compact JSON bytes, as OpenAI sends them (and fewer bytes on the wire)."""
    return json.dumps(obj, separators=(",", ":")).encode()

