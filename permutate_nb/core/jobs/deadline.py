"""One deadline per unit of work, covering its retries and ``Retry-After`` waits.

Each worker of the runner's pool has a ``Clock``; ``clock.start(seconds)`` arms it for the
unit the worker takes. One sweeper task per job (``Deadlines.sweep``) wakes every few
milliseconds and cancels the worker whose unit is past its deadline; the runner then turns
that cancellation into the unit's timed-out row. One shared timer costs about a microsecond
per unit, where an ``asyncio.timeout`` per unit cost ~15 us (a timer handle in the loop's
heap, set and cancelled), 5% of the per-run CPU the throughput benchmark measures.

Code below a unit asks ``remaining()`` (a ``Retry-After`` past the deadline fails at once, the
local model stops generating at it), ``passed()`` (a client library may turn the cancellation
into its own timeout error on the way up) and ``paused()`` (the clock stops while the unit queues for a
provider that serves one call at a time, the embedded model: waiting for a turn does not count).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["Clock", "Deadlines", "remaining", "passed", "paused"]

_CURRENT: ContextVar[Clock | None] = ContextVar("permutate_unit_clock", default=None)


class Clock:
    """The deadline of the unit one worker task is running (``due`` is None between units)."""

    __slots__ = ("task", "loop", "due", "expired")

    def __init__(self, task: asyncio.Task[object]) -> None:
        self.task, self.loop = task, task.get_loop()
        self.due: float | None = None
        self.expired = False

    def start(self, seconds: float) -> None:
        """Arm the clock for a unit that may run ``seconds`` (the sweeper cancels the task after that)."""
        self.due, self.expired = self.loop.time() + seconds, False

    def stop(self) -> bool:
        """Disarm; True if the unit ran past its deadline (the sweeper's cancellation is taken back)."""
        late = self.expired or (self.due is not None and self.loop.time() >= self.due)
        self.due = None
        if self.expired:
            self.task.uncancel()
        return late


class Deadlines:
    """The clocks of one job's workers and the sweeper that enforces them."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._clocks: list[Clock] = []
        self._tick = min(0.05, max(seconds / 20, 0.005))

    def clock(self) -> Clock:
        """The calling worker task's clock, made on its first unit."""
        clock = _CURRENT.get()
        if clock is None:
            clock = Clock(asyncio.current_task())  # type: ignore[arg-type]
            _CURRENT.set(clock)  # the worker task's own context: set once, seen by every unit it runs
            self._clocks.append(clock)
        return clock

    async def sweep(self) -> None:
        """Cancel each worker whose unit is past its deadline; runs until cancelled."""
        while True:
            await asyncio.sleep(self._tick)
            now = asyncio.get_running_loop().time()
            for clock in self._clocks:
                if clock.due is not None and not clock.expired and now >= clock.due:
                    clock.expired = True
                    clock.task.cancel()


def remaining() -> float | None:
    """Seconds left before the current unit's deadline, or None outside one."""
    clock = _CURRENT.get()
    if clock is None or clock.due is None:
        return None
    return clock.due - clock.loop.time()


def passed() -> bool:
    """True when the current unit's deadline has passed."""
    left = remaining()
    return left is not None and left <= 0


@contextmanager
def paused() -> Iterator[None]:
    """Stop the current unit's clock for the block (the sweeper cannot fire meanwhile), then go on
    with the time that was left."""
    clock = _CURRENT.get()
    if clock is None or clock.due is None or clock.expired:
        yield
        return
    left, clock.due = clock.due - clock.loop.time(), None
    try:
        yield
    finally:
        clock.due = clock.loop.time() + left
