"""The ``Executor`` protocol: where ``runner.execute`` hands a job's units once the job is prepared.

The runner owns everything that is the same wherever units run (the store, deadlines, the
finisher that keeps, commits and reports a row); an executor only decides where each unit's
work happens. ``AsyncioExecutor`` runs them in this process; ``RayExecutor`` on Ray actors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol, TypeVar

__all__ = ["Executor", "AsyncioExecutor", "run_pool"]

T = TypeVar("T")


class Executor(Protocol):
    """Runs a job's units; returns False if it was cancelled."""

    async def run(self, job: Any, todo: Iterable[int], *, work: Callable[[int], Awaitable[None]], kept: Any,
                  finish: Callable[[int, Any], Awaitable[None]], reporter: Any, width: int,
                  cache: bool | None) -> bool:
        """Run every unit of ``todo``. ``work(index)`` runs one unit here, within its deadline, and
        finishes its row; a remote executor runs the job's own code elsewhere and ``finish``es each
        row that comes back (kept, committed, reported), ``kept`` holding what units wait on."""
        ...


class AsyncioExecutor:
    """The default: a pool of ``width`` asyncio workers in this process."""

    async def run(self, job: Any, todo: Iterable[int], *, work: Callable[[int], Awaitable[None]], kept: Any,
                  finish: Callable[[int, Any], Awaitable[None]], reporter: Any, width: int,
                  cache: bool | None) -> bool:
        """Run the units in this process through ``run_pool``; ``finish`` and ``kept`` are not needed here."""
        return await run_pool(todo, work, width)


async def run_pool(items: Iterable[T], work: Callable[[T], Awaitable[None]], width: int) -> bool:
    """Run ``work`` on every item, ``width`` at a time. False if the pool was cancelled.

    A pool of ``width`` workers pulling from one iterator costs less per item than a task and a
    semaphore per item, and keeps items starting in order (a batch row's dependencies, always
    earlier rows, have started before it).
    """
    queue = iter(items)

    async def worker() -> None:
        for item in queue:
            await work(item)

    tasks = [asyncio.create_task(worker()) for _ in range(max(width, 1))]
    try:
        await asyncio.gather(*tasks)
    except asyncio.CancelledError:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return False
    return True
