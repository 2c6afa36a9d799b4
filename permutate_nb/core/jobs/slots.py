"""A counting semaphore for jobs on different event loops (each blocking call runs its own).

``asyncio.Semaphore`` belongs to one loop, and a thread semaphore cannot be cancelled: a
batch cancelled while it waited in ``to_thread(acquire)`` later took the slot for good and
kept the process from exiting. Here a waiter is an asyncio future on its own loop, granted
from whichever thread releases; a cancelled waiter leaves the queue (or passes on the slot it
was just given), so nothing is held by a job that no longer runs.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["Slots"]


def _grant(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Slots:
    """At most ``limit`` holders at once across threads and event loops (MAX_CONCURRENT_BATCHES); a cancelled
    waiter holds nothing."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._free = max(limit, 1)
        self._lock = threading.Lock()
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        """Wait for a slot (cancellable), hold it for the block, then hand it to the next waiter."""
        await self._acquire()
        try:
            yield
        finally:
            self._release()

    async def _acquire(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._free > 0 and not self._waiters:
                self._free -= 1
                return
            waiter = (loop, loop.create_future())
            self._waiters.append(waiter)
        try:
            await waiter[1]
        except asyncio.CancelledError:
            with self._lock:
                queued = waiter in self._waiters
                if queued:
                    self._waiters.remove(waiter)
            if not queued:  # the slot was granted as we were cancelled: pass it on
                self._release()
            raise

    def _release(self) -> None:
        with self._lock:
            while self._waiters:
                loop, future = self._waiters.popleft()
                try:
                    loop.call_soon_threadsafe(_grant, future)
                    return
                except RuntimeError:  # that waiter's loop has closed: try the next one
                    continue
            self._free += 1
