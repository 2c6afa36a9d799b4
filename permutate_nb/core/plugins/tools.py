"""Operations -> OpenAI function-calling tool schemas, with stable names and a digest.

The tool JSON is what the model sees and what results are keyed on, so it is serialised
canonically (sorted keys, no spaces) and hashed; names are made valid and unique.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Container, Sequence
from dataclasses import dataclass

from .loader import Plugin
from .openapi import Operation

__all__ = ["ToolSet", "build_toolset", "toolset_of", "tool_name_for", "tool_description_for", "MAX_NAME", "MAX_DESCRIPTION"]

MAX_NAME = 64
MAX_DESCRIPTION = 1024
_INVALID = re.compile(r"[^a-zA-Z0-9_-]")


@dataclass(slots=True)
class ToolSet:
    """The tools sent to the model, the operation behind each tool name, and the plugins they come from.

    ``plugins`` serve selectors that choose a plugin before an operation (``Imprompt`` in-process).
    """

    tools: list[dict]
    by_name: dict[str, Operation]
    tools_json: str
    digest: str
    plugins: tuple[Plugin, ...] = ()

    def __len__(self) -> int:
        return len(self.tools)

    @property
    def names(self) -> list[str]:
        """The tool names in the order sent to the model."""
        return [tool["function"]["name"] for tool in self.tools]

    def without(self, names: Container[str]) -> ToolSet:
        """These tools minus the ones ``names`` lists (by tool name or operationId), the rest unchanged."""
        gone = {n for n, op in self.by_name.items() if n in names or op.operation_id in names}
        if not gone:
            return self
        tools = [t for t in self.tools if t["function"]["name"] not in gone]
        tools_json = json.dumps(tools, separators=(",", ":"), sort_keys=True)
        return ToolSet(tools=tools, by_name={n: op for n, op in self.by_name.items() if n not in gone},
                       tools_json=tools_json, digest=hashlib.sha256(tools_json.encode("utf-8")).hexdigest(),
                       plugins=self.plugins)


def _slug(text: str) -> str:
    return re.sub(r"_+", "_", _INVALID.sub("_", text)).strip("_")


def tool_name_for(operation: Operation) -> str:
    """The operationId made valid, else ``{method}_{path slug}``; at most 64 characters."""
    name = ""
    if operation.operation_id:
        name = _INVALID.sub("_", operation.operation_id.strip())
    if not name.strip("_-"):
        slug = _slug(operation.path.replace("{", "").replace("}", "")) or "root"
        name = f"{operation.method.lower()}_{slug}"
    return name[:MAX_NAME]


def tool_description_for(operation: Operation) -> str:
    """``"<plugin name>: <summary>\\n<description>"``, capped at 1024 characters."""
    text = operation.summary.strip()
    extra = operation.description.strip()
    if extra and extra != text:
        text = f"{text}\n{extra}" if text else extra
    if operation.plugin_name:
        text = f"{operation.plugin_name}: {text}" if text else operation.plugin_name
    if len(text) > MAX_DESCRIPTION:
        text = text[: MAX_DESCRIPTION - 1].rstrip() + "…"
    return text


def _unique(name: str, taken: Container[str]) -> str:
    if name not in taken:
        return name
    n = 2
    while True:
        suffix = f"_{n}"
        candidate = name[: MAX_NAME - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
        n += 1


def build_toolset(plugins: Sequence[Plugin]) -> ToolSet:
    """One function tool per operation, in plugin then document order."""
    return toolset_of([op for plugin in plugins for op in plugin.operations], plugins)


def toolset_of(operations: Sequence[Operation], plugins: Sequence[Plugin] = ()) -> ToolSet:
    """One function tool per operation given, in order (a test case offered only its own functions)."""
    tools: list[dict] = []
    by_name: dict[str, Operation] = {}
    for operation in operations:
        name = _unique(tool_name_for(operation), by_name.keys())
        by_name[name] = operation
        tools.append(
            {
                "type": "function",
                "function": {
                    "name": name,
                    "description": tool_description_for(operation),
                    "parameters": operation.parameters,
                },
            }
        )
    tools_json = json.dumps(tools, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(tools_json.encode("utf-8")).hexdigest()
    return ToolSet(tools=tools, by_name=by_name, tools_json=tools_json, digest=digest, plugins=tuple(plugins))
