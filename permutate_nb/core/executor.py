"""The worker pool every job kind runs on: a fixed number of coroutines over a list of items.

A pool of ``width`` workers pulling from one iterator costs less per item than a task and a
semaphore per item, and keeps items starting in list order (a batch row's dependencies,
always earlier rows, have started before it). Cancellation (Ctrl-C) stops the workers and
reports it; what finished stays finished.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Iterable, TypeVar

__all__ = ["run_pool", "run_stored_pool"]

T = TypeVar("T")


async def run_pool(items: Iterable[T], work: Callable[[T], Awaitable[None]], width: int) -> bool:
    """Run ``work`` on every item, ``width`` at a time. False if the pool was cancelled."""
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


async def run_stored_pool(items: Iterable[T], work: Callable[[T], Awaitable[None]], width: int, *,
                          store: Any, job_id: str | None, writer: Any, resources: Any) -> bool:
    """``run_pool`` for a stored job: a failure of the job itself is recorded as ERROR before it
    propagates, and the run writer and the job's resources are closed whatever happens."""
    try:
        return await run_pool(items, work, width)
    except BaseException as exc:
        if store is not None and job_id is not None and not isinstance(exc, asyncio.CancelledError):
            store.finish(job_id, "ERROR", error_code=type(exc).__name__, error_message=str(exc))
        raise
    finally:
        if writer is not None:
            await asyncio.shield(asyncio.to_thread(writer.close))
        await asyncio.shield(resources.aclose())
