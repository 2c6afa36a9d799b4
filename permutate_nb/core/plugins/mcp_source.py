"""MCP servers as plugins: ``{name, mcp: {command | url, ...}}`` -> a ``Plugin`` whose operations are its tools.

Planning lists the tools once (a connection of its own, closed at once: planning is synchronous
and may run where an event loop already runs). A job that executes operations opens one
connection per server on the first call and shares it between its runs; ``McpServers.aclose``
(called when the job's resources close: on success, failure and cancellation) stops the servers.
A stdio server whose parent is killed sees its stdin close and exits.

The official ``mcp`` SDK is the extra ``mcp``; it is imported only when a request names a server.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import tempfile
import threading
import warnings
from collections.abc import Mapping
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from ...errors import ConfigurationError, MissingExtraError, PermutateWarning, PluginLoadError
from .openapi import Operation

if TYPE_CHECKING:
    from ..request.models import McpSpec
    from .loader import Plugin

__all__ = ["McpServer", "McpServers", "McpStartError", "describe", "expand_env", "list_tools", "list_many", "mcp_plugin",
           "schema_problem", "tool_result_text"]

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class McpStartError(PluginLoadError):
    """The server did not start, exited early or did not answer ``initialize`` in time."""


def describe(name: str, spec: McpSpec) -> str:
    """``MCP server 'time' (uvx mcp-server-time)``: how messages name a server."""
    where = shlex.join(spec.command) if spec.command else spec.url
    return f"MCP server {name!r} ({where})"


def expand_env(values: Mapping[str, Any], field: str) -> dict[str, str]:
    """``${NAME}`` inside a value, or a value ``{env: NAME}``, read from the environment; a missing variable
    is a one-line error naming the field (the request keeps the name, never the secret)."""
    out: dict[str, str] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            value = "${" + str(value["env"]) + "}"

        def lookup(match: re.Match[str], key: str = key) -> str:
            found = os.environ.get(match.group(1))
            if found is None:
                raise ConfigurationError(f"{field}.{key} names the environment variable {match.group(1)}, which is not set")
            return found

        out[key] = _VAR.sub(lookup, str(value))
    return out


def _require_sdk() -> None:
    try:
        import mcp  # noqa: F401
    except ImportError:
        raise MissingExtraError("mcp", "mcp") from None


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups, which anyio task groups raise."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


class McpServer:
    """One connection to one MCP server, held open by a task of its own until ``aclose``.

    The SDK's transports are anyio context managers that must be left by the task that entered
    them; the owner task does both, so any task of the loop may call tools and any may close it.
    """

    def __init__(self, name: str, spec: McpSpec, timeout: float) -> None:
        self.name = name
        self.spec = spec
        self.timeout = timeout
        self.client: Any = None
        self._owner: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._error: BaseException | None = None
        self._stderr = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115 - lives with the server

    @property
    def label(self) -> str:
        """The server as errors name it (its name and how it is started)."""
        return describe(self.name, self.spec)

    async def start(self) -> McpServer:
        """Start the server and finish its handshake within ``timeout`` seconds, or raise ``McpStartError``."""
        _require_sdk()
        self._owner = asyncio.get_running_loop().create_task(self._own(), name=f"mcp-{self.name}")
        try:
            await asyncio.wait_for(self._ready.wait(), self.timeout)
        except TimeoutError:
            message = f"{self.label} did not answer initialize within {self.timeout:g} s{self._stderr_tail()}"
            await self.aclose()
            raise McpStartError(message) from None
        except asyncio.CancelledError:
            await asyncio.shield(self.aclose())
            raise
        if self._error is not None:
            message = self._failure(self._error)
            await self.aclose()
            raise McpStartError(message) from None
        return self

    async def _own(self) -> None:
        from mcp import Client

        try:
            async with AsyncExitStack() as stack:
                self.client = await stack.enter_async_context(Client(await self._transport(stack), mode="legacy"))
                self._ready.set()
                await self._stop.wait()
        except BaseException as exc:  # noqa: BLE001 - reported by start(), or ignored while closing
            if not self._ready.is_set():
                self._error = _leaf(exc)
        finally:
            self.client = None
            self._ready.set()

    async def _transport(self, stack: AsyncExitStack) -> Any:
        spec = self.spec
        if spec.command is not None:
            from mcp.client.stdio import StdioServerParameters, stdio_client

            params = StdioServerParameters(command=spec.command[0], args=list(spec.command[1:]),
                                           env=expand_env(spec.env, f"{self.name}: mcp.env") or None, cwd=spec.cwd)
            return stdio_client(params, errlog=self._stderr)
        from mcp.client.streamable_http import streamable_http_client
        from mcp.shared._httpx_utils import create_mcp_http_client

        http = create_mcp_http_client(headers=expand_env(spec.headers, f"{self.name}: mcp.headers") or None)
        await stack.enter_async_context(http)
        return streamable_http_client(str(spec.url), http_client=http)

    def _stderr_tail(self) -> str:
        try:
            self._stderr.seek(0)
            lines = [line.strip() for line in self._stderr.read()[-4000:].splitlines() if line.strip()]
        except (OSError, ValueError):
            return ""
        return f"; its last error output: {lines[-1][:300]}" if lines else ""

    def _failure(self, exc: BaseException) -> str:
        if isinstance(exc, ConfigurationError):
            return str(exc)
        if isinstance(exc, FileNotFoundError) or (isinstance(exc, OSError) and self.spec.command):
            return f"{self.label} did not start: {exc.strerror or exc}"
        if self.spec.command is not None:
            return f"{self.label} exited before answering initialize{self._stderr_tail() or f' ({type(exc).__name__}: {exc})'}"
        return f"{self.label} did not answer initialize: {type(exc).__name__}: {exc}"

    async def list_tools(self) -> list[Any]:
        """Every tool, following the server's pagination."""
        tools: list[Any] = []
        cursor: str | None = None
        while True:
            page = await asyncio.wait_for(self.client.list_tools(cursor=cursor), self.timeout)
            tools.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                return tools

    async def call_tool(self, name: str, arguments: Mapping[str, Any]) -> Any:
        """Call the server's tool ``name`` with ``arguments``; ``McpStartError`` if the server is not running."""
        if self.client is None:
            raise McpStartError(f"{self.label} is not running")
        return await self.client.call_tool(name, dict(arguments))

    async def aclose(self) -> None:
        """Stop the server (the SDK closes its stdin, then terminates it); safe to call twice."""
        self._stop.set()
        owner, self._owner = self._owner, None
        if owner is not None and not owner.done():
            try:
                await asyncio.wait_for(asyncio.shield(owner), self.timeout + 10)
            except (TimeoutError, Exception):  # noqa: BLE001 - closing must not fail a job
                owner.cancel()
        self._stderr.close()


class McpServers:
    """A job's MCP connections: one per server, started on first use, all stopped by ``aclose``."""

    def __init__(self, specs: Mapping[str, McpSpec], timeout: float) -> None:
        self._specs = dict(specs)
        self._timeout = timeout
        self._servers: dict[str, McpServer] = {}
        self._failed: dict[str, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, name: str) -> McpServer:
        """The running server ``name``; a server that failed to start is not tried again in this job."""
        if name in self._failed:
            raise McpStartError(self._failed[name])
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:
            server = self._servers.get(name)
            if server is None:
                try:
                    server = await McpServer(name, self._specs[name], self._timeout).start()
                except McpStartError as exc:
                    self._failed[name] = str(exc)
                    raise
                self._servers[name] = server
            return server

    async def aclose(self) -> None:
        """Stop every server this job started, one failing to stop not keeping the others running."""
        servers, self._servers = list(self._servers.values()), {}
        await asyncio.gather(*(server.aclose() for server in servers), return_exceptions=True)


# --------------------------------------------------------------------------- planning: tools -> a Plugin


def _in_thread(coro: Any) -> Any:
    """Run ``coro`` to completion on a loop of its own (the caller may be inside a running loop)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="permutate-mcp-list", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


async def _list(name: str, spec: McpSpec, timeout: float) -> list[dict[str, Any]]:
    server = await McpServer(name, spec, timeout).start()
    try:
        tools = await server.list_tools()
    except (TimeoutError, Exception) as exc:  # noqa: BLE001 - one line naming the server
        raise McpStartError(f"{server.label}: tools/list failed: {type(_leaf(exc)).__name__}: {_leaf(exc)}") from None
    finally:
        await server.aclose()
    return [{"name": t.name, "description": t.description or "", "input_schema": t.input_schema} for t in tools]


def list_tools(name: str, spec: McpSpec, timeout: float) -> list[dict[str, Any]]:
    """The server's ``tools/list`` as ``{name, description, input_schema}`` dicts (starts and stops it)."""
    _require_sdk()
    return _in_thread(_list(name, spec, timeout))


def list_many(specs: Mapping[str, McpSpec], timeout: float) -> dict[str, list[dict[str, Any]] | McpStartError]:
    """``list_tools`` of several servers at once (each start costs seconds: a request may name many);
    per server its tools, or the ``McpStartError`` it failed with."""
    _require_sdk()

    async def each(name: str, spec: McpSpec) -> list[dict[str, Any]] | McpStartError:
        try:
            return await _list(name, spec, timeout)
        except McpStartError as exc:
            return exc

    async def every() -> list[Any]:
        return await asyncio.gather(*(each(name, spec) for name, spec in specs.items()))

    return dict(zip(specs, _in_thread(every()))) if specs else {}


def schema_problem(schema: Any) -> str | None:
    """Why ``schema`` is not a valid JSON Schema (its own meta-schema's verdict), or None."""
    if not isinstance(schema, dict):
        return f"it is a {type(schema).__name__}, not an object"
    try:
        from jsonschema import SchemaError, validators
    except ImportError:  # pragma: no cover - jsonschema comes with the mcp extra
        return None
    try:
        validators.validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        path = "/".join(str(p) for p in exc.path)
        return f"{exc.message[:200]}" + (f" at {path}" if path else "")
    return None


def tool_operations(plugin_id: str, tools: list[dict[str, Any]], kind: str, origin: str) -> list[Operation]:
    """One operation per tool; a tool whose schema is not valid JSON Schema is offered as given, with a warning."""
    operations = []
    for tool in tools:
        schema = tool.get("input_schema")
        problem = schema_problem(schema)
        if problem is not None:
            warnings.warn(f"{origin}: tool {tool['name']!r} has an input schema that is not valid JSON Schema "
                          f"({problem}); offered as given", PermutateWarning, stacklevel=2)
        operations.append(Operation(
            plugin_id=plugin_id, plugin_name=plugin_id, method="", url=tool["name"], path=tool["name"],
            operation_id=tool["name"], summary=(tool.get("description") or "").strip(), description="",
            parameters=schema if isinstance(schema, dict) else {"type": "object", "properties": {}},
            locations={}, kind=kind,
        ))
    return operations


def mcp_plugin(name: str, spec: McpSpec, timeout: float, tools: list[dict[str, Any]] | None = None) -> Plugin:
    """The plugin a server's tools make (``tools``: already listed); raises ``McpStartError`` (one line naming the server)."""
    from .loader import Plugin

    tools = list_tools(name, spec, timeout) if tools is None else tools
    return Plugin(id=name, name=name, description="", manifest={"mcp": spec.model_dump(exclude_defaults=True)},
                  openapi_location=describe(name, spec), operations=tool_operations(name, tools, "mcp", describe(name, spec)))


def tool_result_text(result: Any) -> str:
    """A ``CallToolResult`` as text: its text blocks, else its structured content, else a JSON dump."""
    import json

    texts = [block.text for block in result.content if getattr(block, "type", None) == "text"]
    if texts:
        return "\n".join(texts)
    if result.structured_content is not None:
        return json.dumps(result.structured_content, ensure_ascii=False, default=str)
    return json.dumps([block.model_dump(mode="json", exclude_none=True) for block in result.content], ensure_ascii=False)
