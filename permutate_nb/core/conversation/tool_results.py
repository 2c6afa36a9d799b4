"""Where a conversation's tool results come from: scripted, a backend, or the real operation.

Order of look-up for one call: the test case's ``tool_results`` (by tool name, else operationId;
a list is used in call order), then the backend's method of that name, then the executor
(``config.execute_operations``: HTTP operations behind the URL guard, MCP tools, Python
functions). Whatever answers, the model reads text; a failure is text too (``Error: ...``),
so the conversation goes on as it would with a real tool.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..plugins.execute import OperationExecutor
from ..scoring.calls import Call
from .backend import call_backend, public_methods, result_text

__all__ = ["ToolResponder"]


class ToolResponder:
    """Answers the calls of one run (it counts the scripted lists' positions, so one per run)."""

    def __init__(self, scripted: Mapping[str, Any] | None, backend: Any = None,
                 executor: OperationExecutor | None = None) -> None:
        self._scripted = dict(scripted or {})
        self._used: dict[str, int] = {}
        self._backend = backend
        self._methods = set(public_methods(type(backend))) if backend is not None else set()
        self._executor = executor

    async def respond(self, call: Call) -> tuple[str, bool]:
        """The result text of ``call`` and whether it is a result (False: an error the model reads)."""
        name = call.name or ""
        operation = call.operation
        for key in (name, operation.operation_id if operation is not None else None):
            if key is not None and key in self._scripted:
                return self._script(key)
        target = operation.url if operation is not None and operation.kind != "openapi" else name
        if self._backend is not None and (name in self._methods or target in self._methods):
            return await call_backend(self._backend, name if name in self._methods else target, call.arguments)
        if self._executor is not None and operation is not None:
            if call.arguments is None:
                return f"Error: the arguments of {name} are not a JSON object", False
            execution = await self._executor.execute(operation, call.arguments)
            ok = execution.error is None and (execution.status is None or execution.status < 400)
            return execution.observation, ok
        if operation is None:
            return f"Error: there is no tool {name!r}", False
        return (f"Error: no result for {name}: the test case gives no tool_results for it, no backend has it, "
                "and config.execute_operations is off"), False

    def _script(self, key: str) -> tuple[str, bool]:
        value = self._scripted[key]
        if not isinstance(value, list):
            return result_text(value), True
        index = self._used.get(key, 0)
        self._used[key] = index + 1
        if index >= len(value):
            return f"Error: no scripted result left for {key} (tool_results gives {len(value)})", False
        return result_text(value[index]), True
