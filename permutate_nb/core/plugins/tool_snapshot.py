"""The tool list a job offered, and what changed between two of them ("schema drift").

An accuracy change between two jobs has another cause when the tools changed under them (an MCP
server upgraded, a description reworded), so every job stores, per plugin group, the exact tools
the model saw (name, description, parameters) with the SHA-256 of their canonical JSON, and
comparisons list the differences.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .tools import ToolSet

__all__ = ["snapshot", "drift", "tool_rows"]


def snapshot(toolsets: Mapping[str, ToolSet]) -> dict[str, Any]:
    """``{group: {digest, tools: [{name, description, parameters}, ...]}}``."""
    return {name: {"digest": ts.digest, "tools": [dict(tool["function"]) for tool in ts.tools]}
            for name, ts in toolsets.items()}


def _by_name(group: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(tool.get("name")): tool for tool in group.get("tools") or ()}


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def group_drift(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """What changed from ``before`` to ``after`` (one group's snapshots), one phrase per kind of change."""
    if before.get("digest") and before.get("digest") == after.get("digest"):
        return []
    old, new = _by_name(before), _by_name(after)
    changes = []
    added = [name for name in new if name not in old]
    removed = [name for name in old if name not in new]
    described = [name for name in new if name in old and old[name].get("description") != new[name].get("description")]
    schemas = [name for name in new if name in old
               and _canonical(old[name].get("parameters")) != _canonical(new[name].get("parameters"))]
    for label, names in (("tool added", added), ("tool removed", removed), ("description changed", described),
                         ("schema changed", schemas)):
        if names:
            changes.append(f"{label}: {', '.join(names[:10])}" + (f" (+{len(names) - 10} more)" if len(names) > 10 else ""))
    if not changes and old != new:
        changes.append("tool order changed")
    return changes


def drift(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None,
          groups: Mapping[str, str] | None = None) -> list[str]:
    """Lines saying how the tools on offer differ, per plugin group (``groups`` pairs a group of
    ``before`` with one of ``after``; default: the groups of the same name). Empty when either side
    has no snapshot (a job from before snapshots) or nothing changed."""
    if not before or not after:
        return []
    pairs = groups or {name: name for name in before if name in after}
    lines = []
    for old, new in pairs.items():
        if old in before and new in after:
            label = old if old == new else f"{old} -> {new}"
            lines += [f"plugin group {label}: {change}" for change in group_drift(before[old], after[new])]
    return lines


def tool_rows(tools: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """One row per offered tool (group, tool, description, parameters): the notebook's tool list."""
    rows = []
    for group, snap in (tools or {}).items():
        for tool in snap.get("tools") or ():
            params = tool.get("parameters") or {}
            required = set(params.get("required") or ()) if isinstance(params, dict) else set()
            names = [f"{p}*" if p in required else p for p in (params.get("properties") or {})] if isinstance(params, dict) else []
            rows.append({"plugin_group": group, "tool": tool.get("name"),
                         "description": (tool.get("description") or "").splitlines()[0][:120] if tool.get("description") else "",
                         "parameters": ", ".join(names)})
    return rows
