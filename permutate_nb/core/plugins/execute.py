"""Calling the chosen operation over HTTP, for ``config.execute_operations: true``.

Selection is scored without calling anything; executing shows what the choice *does*: the
API's answer becomes the run's ``final_output`` (and an agent reads it to write its final
answer). Arguments go where the OpenAPI document put them (path, query, header, form or
JSON body). A failed call does not fail the run: the selection stands and the row says
what happened (``operation_status``, the note in ``error``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ...errors import ConfigurationError, ProviderError
from ...settings import env_value
from ..request.locations import normalise_url
from ..request.models import JobRequest
from .openapi import Operation

if TYPE_CHECKING:
    import httpx

__all__ = ["Execution", "OperationExecutor", "build_call", "auth_headers"]

MAX_TEXT = 32_000  # characters of an API answer kept in a row
_QUERY_BY_DEFAULT = ("GET", "DELETE", "HEAD", "OPTIONS")


@dataclass(slots=True)
class Execution:
    """One operation call: the HTTP status and the answer's text, or why there is none."""

    status: int | None
    text: str | None
    error: str | None
    elapsed: float

    @property
    def observation(self) -> str:
        """What an agent reads back: the answer, or the failure in words."""
        if self.error is not None:
            return f"Error: {self.error}"
        if self.status is not None and self.status >= 400:
            return f"HTTP {self.status}: {self.text or ''}".strip()
        return self.text or ""


@dataclass(slots=True)
class Call:
    method: str
    url: str
    params: dict[str, Any]
    headers: dict[str, str]
    json_body: Any = None
    form: dict[str, Any] | None = None


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    scalars = isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value)
    if isinstance(value, (dict, list)) and not scalars:  # httpx repeats a key for a list of scalars
        return json.dumps(value, ensure_ascii=False)
    return value


def build_call(operation: Operation, arguments: Mapping[str, Any]) -> Call:
    """The HTTP request for ``operation`` with the model's ``arguments`` put where the spec says.

    An argument the spec does not know goes to the query of a GET-like operation and to
    the JSON body otherwise. A lone ``body`` argument (a non-object request body) is the body.
    Raises ValueError when a path parameter is missing.
    """
    url = operation.url
    call = Call(operation.method, url, {}, {})
    body: dict[str, Any] = {}
    form: dict[str, Any] = {}
    default = "query" if operation.method in _QUERY_BY_DEFAULT else "body"
    for name, value in arguments.items():
        where = operation.locations.get(name, default)
        if where == "path":
            url = url.replace("{" + name + "}", quote(str(value), safe=""))
        elif where == "query":
            call.params[name] = _query_value(value)
        elif where == "header":
            call.headers[name] = str(value)
        elif where == "form":
            form[name] = value
        else:
            body[name] = value
    if "{" in url and "}" in url[url.index("{"):]:
        missing = url[url.index("{") + 1:url.index("}", url.index("{"))]
        raise ValueError(f"the path parameter {missing!r} has no value")
    call.url = url
    if list(body) == ["body"] and operation.locations.get("body") == "body":
        call.json_body = body["body"]
    elif body:
        call.json_body = body
    call.form = form or None
    return call


def auth_headers(request: JobRequest) -> dict[str, dict[str, str]]:
    """Per plugin id, the headers its ``auth`` asks for; a bearer token's variable must be set."""
    from .loader import normalise_location

    headers: dict[str, dict[str, str]] = {}
    refs = [ref for group in request.plugin_groups for ref in group.plugins]
    for ref in refs:
        if ref.auth is None or ref.auth.type == "none" or ref.manifest_url is None:
            continue
        token = env_value(ref.auth.token_env)
        if not token:
            raise ConfigurationError(
                f"plugin {ref.manifest_url}: auth.token_env names {ref.auth.token_env}, "
                "but that environment variable is not set"
            )
        headers[normalise_url(normalise_location(ref.manifest_url))] = {"Authorization": f"Bearer {token}"}
    return headers


class OperationExecutor:
    """Calls operations through the job's HTTP client, with a timeout and the plugin's auth."""

    def __init__(self, client: httpx.AsyncClient | None, *, timeout: float, auth: Mapping[str, Mapping[str, str]] | None = None,
                 tools: Any = None) -> None:
        """``tools`` (a ``tool_sources.ToolCalls``) executes MCP and function tools; HTTP operations use ``client``."""
        self._client = client
        self.timeout = timeout
        self._auth = {key: dict(value) for key, value in (auth or {}).items()}
        self._tools = tools

    async def execute(self, operation: Operation, arguments: Mapping[str, Any] | None) -> Execution:
        """Call ``operation``: over HTTP for an OpenAPI operation, else as an MCP or function tool; never raises."""
        if operation.kind != "openapi":
            if self._tools is None:
                return Execution(None, None, f"tool {operation.url} cannot be called here", 0.0)
            return await self._tools.execute(operation, arguments or {})
        import httpx  # already loaded: the job's client is an httpx client

        assert self._client is not None

        started = time.perf_counter()
        try:
            call = build_call(operation, arguments or {})
        except ValueError as exc:
            return Execution(None, None, f"cannot call {operation.method} {operation.url}: {exc}", 0.0)
        headers = {**call.headers, **self._auth.get(normalise_url(operation.plugin_id), {})}
        try:
            response = await self._client.request(
                call.method, call.url, params=call.params or None, headers=headers or None,
                json=call.json_body, data=call.form, timeout=self.timeout,
            )
        except httpx.TimeoutException:
            error = f"{call.method} {call.url} did not answer within {self.timeout:g} s"
            return Execution(None, None, error, time.perf_counter() - started)
        except httpx.HTTPError as exc:
            error = f"{call.method} {call.url} failed: {type(exc).__name__}: {exc}"
            return Execution(None, None, error, time.perf_counter() - started)
        except ProviderError as exc:  # the answer was over config.max_response_bytes
            return Execution(None, None, f"{call.method} {call.url}: {exc}", time.perf_counter() - started)
        text = response.text
        if len(text) > MAX_TEXT:
            text = text[:MAX_TEXT] + " ...[truncated]"
        return Execution(response.status_code, text, None, time.perf_counter() - started)
