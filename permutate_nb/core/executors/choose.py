"""From a spec (``"ray"``, a ``config.executor`` mapping, an ``ExecutorSpec``) to an ``Executor``.

Ray is imported only when a spec asks for it, so the core runs without the extra.
"""

from __future__ import annotations

from typing import Any

from .base import AsyncioExecutor, Executor
from .spec import check_executor, executor_spec

__all__ = ["executor_for"]


def executor_for(value: Any) -> Executor:
    """The executor for ``value``; an ``Executor`` passes through, None means in-process."""
    if hasattr(value, "run") and not isinstance(value, (str, dict)):
        return value
    spec = executor_spec(value)
    if spec is None or spec.kind == "asyncio":
        return AsyncioExecutor()
    check_executor(spec)
    from .ray import RayExecutor

    return RayExecutor(spec)
