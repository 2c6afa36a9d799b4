"""One plugin entry -> a ``Plugin``, whatever its source: a manifest or OpenAPI document, an MCP
server or function schemas. Planning calls ``load_ref``; the job's executor calls ``ToolCalls``."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .execute import MAX_TEXT, Execution

if TYPE_CHECKING:
    from ..request.models import JobRequest, PluginRef
    from .loader import Plugin, PluginLoader
    from .openapi import Operation

__all__ = ["load_ref", "list_servers", "ToolCalls", "mcp_specs"]


def load_ref(loader: PluginLoader, ref: PluginRef, timeout: float, listed: Mapping[str, Any] | None = None) -> Plugin:
    """The plugin behind one entry; an MCP server that does not start raises ``McpStartError``.
    ``listed`` holds what ``list_servers`` found (tools, or the start error) by plugin name."""
    if ref.mcp is not None:
        from .mcp_source import mcp_plugin

        found = (listed or {}).get(ref.location)
        if isinstance(found, Exception):
            raise found
        return mcp_plugin(ref.location, ref.mcp, timeout, found)
    if ref.functions is not None:
        from .function_source import function_plugin

        return function_plugin(ref.location, ref.functions)
    return loader.load(str(ref.manifest_url))


def list_servers(request: JobRequest) -> dict[str, Any]:
    """Every MCP server of the request listed at once (started, listed, stopped): tools or error by name."""
    specs = mcp_specs(request)
    if not specs:
        return {}
    from .mcp_source import list_many

    return list_many(specs, request.config.timeout_sec)


def mcp_specs(request: JobRequest) -> dict[str, Any]:
    """Every MCP server the request names, by plugin name."""
    return {ref.location: ref.mcp for group in request.plugin_groups for ref in group.plugins if ref.mcp is not None}


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + " ...[truncated]"


class ToolCalls:
    """Executes tool operations for a job: MCP tools through the job's servers (``tools/call``),
    function tools through the Python callable registered for them."""

    def __init__(self, request: JobRequest | None, timeout: float) -> None:
        self.timeout = timeout
        self._specs = mcp_specs(request) if request is not None else {}
        self._servers: Any = None

    async def execute(self, operation: Operation, arguments: Mapping[str, Any]) -> Execution:
        """Call an MCP or function tool; a failure becomes the execution's error note, never an exception."""
        started = time.perf_counter()
        try:
            if operation.kind == "mcp":
                return await self._mcp(operation, arguments, started)
            return await self._function(operation, arguments, started)
        except Exception as exc:  # noqa: BLE001 - a failed call is the row's note, not the run's end
            return Execution(None, None, f"tool {operation.url}: {type(exc).__name__}: {exc}", time.perf_counter() - started)

    async def _mcp(self, operation: Operation, arguments: Mapping[str, Any], started: float) -> Execution:
        import asyncio

        from .mcp_source import McpServers, McpStartError, tool_result_text

        if operation.plugin_id not in self._specs:
            return Execution(None, None, f"no MCP server {operation.plugin_id!r} in this job", 0.0)
        if self._servers is None:
            self._servers = McpServers(self._specs, self.timeout)
        try:
            server = await self._servers.get(operation.plugin_id)
        except McpStartError as exc:
            return Execution(None, None, str(exc), time.perf_counter() - started)
        try:
            result = await asyncio.wait_for(server.call_tool(operation.url, arguments), self.timeout)
        except TimeoutError:
            return Execution(None, None, f"{server.label}: tool {operation.url} did not answer within {self.timeout:g} s",
                             time.perf_counter() - started)
        text = _text(tool_result_text(result))
        elapsed = time.perf_counter() - started
        if result.is_error:
            return Execution(None, text, f"tool {operation.url} reported an error: {text[:500]}", elapsed)
        return Execution(None, text, None, elapsed)

    async def _function(self, operation: Operation, arguments: Mapping[str, Any], started: float) -> Execution:
        from .function_source import call_function, find_callable

        fn = find_callable(operation.url, operation.parameters)
        if fn is None:
            return Execution(None, None, f"function {operation.url} has no Python callable in this process "
                                         "(pn.tools_from_functions registers them)", 0.0)
        value = await call_function(fn, arguments)
        return Execution(None, _text(value), None, time.perf_counter() - started)

    async def aclose(self) -> None:
        """Stop the MCP servers this job started, if any."""
        if self._servers is not None:
            await self._servers.aclose()
