"""What ``permutate tools`` prints: every tool on offer (plugin, tool name, one-line description,
parameters), from a request's plugin groups or from one source. It is what a user reads to write
``expected_plugin_used`` / ``expected_api_used``; the request builder lists the same."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ...errors import PermutateWarning, RequestError

if TYPE_CHECKING:
    from ..plugins.loader import Plugin

__all__ = ["ToolLine", "tools_of_request", "tools_of_source", "tool_lines", "format_table"]

ToolLine = dict[str, Any]


def _one_line(text: str, limit: int = 100) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def tool_lines(plugin: Plugin, group: str | None = None) -> list[ToolLine]:
    """One line per operation: what expectations name (``plugin`` = expected_plugin_used,
    ``tool`` = expected_api_used, ``method`` = expected_method, empty for tools) and its parameters."""
    lines = []
    for op in plugin.operations:
        params = op.parameters if isinstance(op.parameters, dict) else {}
        required = set(params.get("required") or ()) if isinstance(params.get("required"), list) else set()
        properties = found if isinstance(found := params.get("properties"), dict) else {}
        lines.append({
            **({"group": group} if group is not None else {}),
            "plugin": plugin.id, "plugin_name": plugin.name, "kind": op.kind, "tool": op.url, "method": op.method,
            "description": _one_line(op.summary or op.description),
            "parameters": [{"name": name, "required": name in required,
                            "type": (schema.get("type") if isinstance(schema, dict) else None)}
                           for name, schema in properties.items()],
            "input_schema": params,
        })
    return lines


def tools_of_request(source: Any) -> list[ToolLine]:
    """Every plugin group's tools (a plugin in several groups is listed under each)."""
    from .permutate import plan_job

    plan = plan_job(source, check_keys=False)
    lines: list[ToolLine] = []
    for group in plan.request.plugin_groups:
        for ref in group.plugins:
            if ref.location in plan.broken:
                raise RequestError(plan.broken[ref.location])
            lines += tool_lines(plan.plugins[ref.location], group.name)
    return lines


def tools_of_source(*, manifest: str | None = None, openapi: str | None = None, functions: str | None = None,
                    mcp_command: str | None = None, mcp_url: str | None = None, timeout: float = 30.0) -> list[ToolLine]:
    """The tools of exactly one source (the ``permutate tools --manifest/--openapi/...`` flags)."""
    given = {k: v for k, v in dict(manifest=manifest, openapi=openapi, functions=functions, mcp_command=mcp_command,
                                   mcp_url=mcp_url).items() if v}
    if len(given) != 1:
        raise RequestError("give a request file, or exactly one of --manifest, --openapi, --functions, "
                           "--mcp-command, --mcp-url")
    from ..plugins.loader import PluginLoader
    from ..plugins.tool_sources import load_ref
    from ..request.models import PluginRef

    if manifest or openapi:
        ref = PluginRef(manifest_url=manifest or openapi)
    elif functions:
        from pathlib import Path

        from ..request.locations import resolve_location

        ref = PluginRef(name="functions", functions=resolve_location(functions, Path.cwd()))
    else:
        from pydantic import ValidationError

        try:
            spec = {"command": mcp_command} if mcp_command else {"url": mcp_url}
            ref = PluginRef(name="mcp", mcp=spec)
        except ValidationError as exc:
            raise RequestError(f"--mcp-{'command' if mcp_command else 'url'}: "
                               f"{exc.errors()[0]['msg'].removeprefix('Value error, ')}") from None
    from ..plugins.fetch import default_url_map

    return tool_lines(load_ref(PluginLoader(default_url_map({})), ref, timeout))


def _params(line: ToolLine) -> str:
    return ", ".join(f"{p['name']}{'*' if p['required'] else ''}" for p in line["parameters"]) or "-"


def format_table(lines: Iterable[ToolLine]) -> str:
    """Plain text: one block per plugin (``expected_plugin_used``), one line per tool (``expected_api_used``)."""
    out: list[str] = []
    current: tuple[Any, Any] | None = None
    for line in lines:
        key = (line.get("group"), line["plugin"])
        if key != current:
            current = key
            where = f"group {line['group']}: " if line.get("group") is not None else ""
            named = f" ({line['plugin_name']})" if line["plugin_name"] != line["plugin"] else ""
            out.append(f"{where}plugin {line['plugin']}{named}")
        tool = f"{line['method']} {line['tool']}".strip()
        out.append(f"  {tool}  -  {line['description'] or '(no description)'}")
        out.append(f"      parameters: {_params(line)}")
    if not out:
        warnings.warn("no tools on offer", PermutateWarning, stacklevel=2)
    return "\n".join(out) + ("\n" if out else "")
