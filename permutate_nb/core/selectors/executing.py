"""A selector wrapper for ``config.execute_operations``: pick, then really call the pick.

Single-shot selectors (function calling, prompt selection) have no second turn, so the
API's answer itself is the run's ``final_output``. Agents execute inside their own loop
and are not wrapped.
"""

from __future__ import annotations

from ..plugins.execute import OperationExecutor
from .base import Selection, ToolSelector

__all__ = ["ExecutingSelector", "apply_execution"]


def _add_note(selection: Selection, note: str) -> None:
    selection.note = f"{selection.note}; {note}" if selection.note else note


async def apply_execution(selection: Selection, executor: OperationExecutor) -> Selection:
    """Call the selected operation and put its answer in ``final_output``; never raises."""
    if selection.operation is None:
        return selection
    if selection.arguments is None:
        _add_note(selection, "the operation was not called: no usable arguments")
        return selection
    execution = await executor.execute(selection.operation, selection.arguments)
    selection.operation_status = execution.status
    if selection.elapsed is not None:
        selection.elapsed += execution.elapsed
    if execution.error is not None:
        _add_note(selection, execution.error)
        return selection
    selection.final_output = execution.text
    if execution.status is not None and execution.status >= 400:
        _add_note(selection, f"the operation answered HTTP {execution.status}")
    return selection


class ExecutingSelector:
    """A selector that calls the operation its inner selector picked, its answer becoming ``final_output``."""

    def __init__(self, inner: ToolSelector, executor: OperationExecutor) -> None:
        self._inner = inner
        self._executor = executor

    async def select(self, prompt: str, *, repeat: int, test_type: str = "api_signature_selector") -> Selection:
        """The inner selector's pick, then the pick called (``apply_execution``; a failed call is a note)."""
        selection = await self._inner.select(prompt, repeat=repeat, test_type=test_type)
        return await apply_execution(selection, self._executor)
