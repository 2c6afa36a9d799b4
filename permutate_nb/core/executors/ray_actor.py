"""A Ray actor that runs jobs' units: the same runner code as in-process, for the units the driver hands it.

An actor serves one job at a time and outlives it: the driver keeps idle actors in a pool and
hands them the next job (``RayExecutor``), so a process pays for starting a worker and importing
the package once, not once per job. For each job, ``start`` plans it from the shipped request
(``Job.from_request``), prepares it once with
its own resources (HTTP sessions, response cache, a loaded local model) and keeps ``width``
workers pulling units from its queue through ``runner._worker`` (deadlines, failed rows,
``ready``). A call to ``run`` queues a chunk and streams its rows back as they finish, grouped
by what finished together; the driver alone stores and reports them. Imported only with Ray.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import os
from collections.abc import AsyncIterator
from typing import Any

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

    def __init__(self) -> None:
        gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])  # as in-process jobs run (``core.gc_pause``)
        self._routes: dict[int, _Call] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._resources: Any = None
        self._context = Context()  # loaded local models stay loaded for the next job

    async def start(self, job_class_path: str, request: dict[str, Any], cache: bool | None, width: int,
                    settings: dict[str, str]) -> int:
        """Plan and prepare a job here; returns this worker's pid (for logs and tests)."""
        await self.close()  # a job the driver could not close (it was cancelled) ends here
        os.environ.update(settings)  # the driver's settings (``ray.FORWARDED``); this process is the actor's own
        self._width = width
        job_class = job_class_at(job_class_path)  # imported in the worker process
        job: Job[Any] = await asyncio.to_thread(job_class.from_request, request)
        self._job = job
        self._routes = {}
        self._resources = job.resources(cache, width, self._context)
        await job.prepare(self._resources, self._width, Reporter())
        self._board: Board[Any] = Board(job.size)  # only the rows the driver ships to units that wait for them
        self._queue: asyncio.Queue[int] = asyncio.Queue()
        deadlines = Deadlines(job.deadline) if job.deadline is not None else None
        work = _worker(job, self._resources, self._board, self._finish, Reporter(), deadlines)
        self._tasks = [asyncio.create_task(self._pull(work)) for _ in range(self._width)]
        if deadlines is not None:
            self._tasks.append(asyncio.create_task(deadlines.sweep()))
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
        """End the current job: stop its workers, close its resources (the response cache commits what it
        has). The actor stays, ready for the next ``start``."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
        resources, self._resources = self._resources, None
        if resources is not None:
            await resources.aclose()
