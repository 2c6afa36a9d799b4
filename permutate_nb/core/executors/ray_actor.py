"""One Ray actor of a job: the same runner code as in-process, for the units the driver hands it.

The actor plans the job from the shipped request (``Job.from_request``), prepares it once with
its own resources (HTTP sessions, response cache, a loaded local model) and keeps ``width``
workers pulling units from its queue through ``runner._worker`` (deadlines, failed rows,
``ready``). A call to ``run`` queues a chunk and streams its rows back as they finish, grouped
by what finished together; the driver alone stores and reports them. Imported only with Ray.
"""

from __future__ import annotations

import asyncio
import importlib
import contextlib
import gc
import os
from typing import Any, AsyncIterator

from ..context import Context
from ..jobs.deadline import Deadlines
from ..jobs.events import Reporter
from ..jobs.gc_pause import YOUNG_THRESHOLD
from ..jobs.runner import Board, Job, _worker

__all__ = ["UnitActor"]

Rows = list[tuple[int, Any]]
LINGER = 0.02  # seconds a finished row waits for others to travel with it: each message costs the driver CPU


class _Call:
    """One ``run`` call's rows as they finish; ``complete`` is set when all it still waits for are in."""

    def __init__(self, units: int) -> None:
        self.rows: Rows = []
        self.left = units
        self.arrived = asyncio.Event()
        self.complete = asyncio.Event()

    def put(self, index: int, data: Any) -> None:
        self.rows.append((index, data))
        self.arrived.set()
        if len(self.rows) == self.left:
            self.complete.set()

    async def next(self) -> Rows:
        """The rows that finished within ``LINGER`` of the first (at once when they are all in)."""
        await self.arrived.wait()
        if not self.complete.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.complete.wait(), LINGER)
        rows, self.rows = self.rows, []
        self.left -= len(rows)
        self.arrived.clear()
        self.complete.clear()
        return rows


def job_path(job: Any) -> str:
    """``"module:Class"`` of a job, for its actors to rebuild it from (no table of kinds needed here)."""
    cls = type(job)
    return f"{cls.__module__}:{cls.__qualname__}"


def job_class_at(path: str) -> Any:
    """The job class a ``job_path`` names; only the driver writes these, never a request."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


class UnitActor:
    """A job's units on one worker process; ``start`` first, then ``run`` chunks, ``close`` at the end."""

    def __init__(self, job_class: str, request: dict[str, Any], cache: bool | None, width: int,
                 settings: dict[str, str]) -> None:
        os.environ.update(settings)  # the driver's settings (``ray_executor.FORWARDED``); this process is the actor's own
        gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])  # as in-process jobs run (``core.gc_pause``)
        self._job_class, self._request, self._cache, self._width = job_class, request, cache, width
        self._routes: dict[int, _Call] = {}
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> int:
        """Plan and prepare the job here; returns this worker's pid (for logs and tests)."""
        job_class = job_class_at(self._job_class)  # imported in the worker process
        job: Job[Any] = await asyncio.to_thread(job_class.from_request, self._request)
        self._job = job
        self._resources = job.resources(self._cache, self._width, Context())
        await job.prepare(self._resources, self._width, Reporter())
        self._board: Board[Any] = Board(job.size)  # only the rows the driver ships to units that wait for them
        self._queue: asyncio.Queue[int] = asyncio.Queue()
        deadlines = Deadlines(job.deadline) if job.deadline is not None else None
        work = _worker(job, self._resources, self._board, self._finish, Reporter(), deadlines)
        self._tasks = [asyncio.create_task(self._pull(work)) for _ in range(self._width)]
        if deadlines is not None:
            self._tasks.append(asyncio.create_task(deadlines.sweep()))  # type: ignore[arg-type]
        return os.getpid()

    async def _pull(self, work: Any) -> None:
        while True:
            index = await self._queue.get()
            try:
                await work(index)
            except Exception as exc:  # noqa: BLE001 - a bug that would end the job in-process ends this call
                self._routes.pop(index).put(index, exc)

    async def _finish(self, index: int, row: Any) -> None:
        """What ``_worker`` does with a row here: it goes to the call that queued its unit (the driver
        keeps, stores and reports it)."""
        self._routes.pop(index).put(index, self._job.dump(row))

    async def run(self, units: list[int], needed: dict[int, dict[str, Any]]) -> AsyncIterator[Rows]:
        """Run ``units`` (``needed``: the stored rows of the units they wait for); yields their rows as
        they finish (``_Call.next``)."""
        for index, data in needed.items():
            self._board.add(index, self._job.restore(index, data))
        call = _Call(len(units))
        for index in units:
            self._routes[index] = call
            self._queue.put_nowait(index)
        while call.left:
            rows = await call.next()
            for _, data in rows:
                if isinstance(data, Exception):
                    raise data
            yield rows

    async def close(self) -> None:
        """Stop the workers and close the job's resources (the response cache commits what it has)."""
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._resources.aclose()
