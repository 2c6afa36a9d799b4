"""The worker pool every job kind runs on: a fixed number of coroutines over a list of items.

A pool of ``width`` workers pulling from one iterator costs less per item than a task and a
semaphore per item, and keeps items starting in list order (a batch row's dependencies,
always earlier rows, have started before it). Cancellation (Ctrl-C) stops the workers and
reports it; what finished stays finished.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable, TypeVar

__all__ = ["run_pool", "stored_job"]

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


@asynccontextmanager
async def stored_job(store: Any, job_id: str | None, writer: Any, resources: Any) -> AsyncIterator[None]:
    """Guard a stored job's run: a failure of the job itself is recorded as ERROR before it
    propagates, and the run writer and the job's resources are closed whatever happens."""
    try:
        yield
    except BaseException as exc:
        if store is not None and job_id is not None and not isinstance(exc, asyncio.CancelledError):
            store.finish(job_id, "ERROR", error_code=type(exc).__name__, error_message=str(exc))
        raise
    finally:
        if writer is not None:
            await asyncio.shield(writer.aclose())
        await asyncio.shield(resources.aclose())
