"""``JobHandle``: a job started in the background, the one way every face launches a job.

A handle runs its job's coroutine either in a worker thread with its own event loop (``start``:
sync callers, notebooks, the CLI, so a notebook's own loop keeps running) or as a task on the
running loop (``start_on_loop``: the server, whose jobs share its loop). Either way it gives the
job's id at once, then ``status()``, ``wait()``, ``result()`` and ``cancel()``.

``wait`` turns the first interrupt of the waiting thread (Ctrl-C, a kernel interrupt) into a
cancel: the job then returns what finished, marked CANCELLED; a second interrupt stops waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from concurrent.futures import CancelledError as FutureCancelled
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

from ...errors import one_line_warnings
from ..status import JobStatus

__all__ = ["JobHandle", "blocking"]

T = TypeVar("T")
_POLL = 0.2  # seconds between checks for an interrupt while waiting (the wait itself is event-driven)


class JobHandle(Generic[T]):
    """A running job: ``job_id`` at once; ``status()``, ``wait()``, ``result()``, ``cancel()``."""

    def __init__(self, job_id: str | None, store: Any = None) -> None:
        self.job_id = job_id
        self._store = store
        self._outcome: Future[T] = Future()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[T] | None = None
        self._interrupted = False  # an interrupt came while the job was being started

    @classmethod
    def start(cls, coro: Coroutine[Any, Any, T], *, job_id: str | None = None, store: Any = None,
              name: str = "permutate-job") -> JobHandle[T]:
        """Run ``coro`` in a worker thread with its own event loop."""
        handle: JobHandle[T] = cls(job_id, store)
        loop = asyncio.new_event_loop()
        handle._loop = loop
        handle._task = loop.create_task(coro)

        def target() -> None:
            asyncio.set_event_loop(loop)
            try:
                handle._outcome.set_result(loop.run_until_complete(handle._task))  # type: ignore[arg-type]
            except BaseException as exc:  # noqa: BLE001 - re-raised in the waiting thread
                handle._outcome.set_exception(exc)
            finally:
                loop.close()

        try:
            threading.Thread(target=target, name=name, daemon=True).start()
        except KeyboardInterrupt:  # Thread.start waits for the thread: an interrupt there must still cancel
            handle._interrupted = True
        return handle

    @classmethod
    def start_on_loop(cls, coro: Coroutine[Any, Any, T], *, job_id: str | None = None, store: Any = None,
                      name: str = "permutate-job") -> JobHandle[T]:
        """Run ``coro`` as a task on the running event loop (``await handle.task`` to wait there)."""
        handle: JobHandle[T] = cls(job_id, store)
        handle._loop = asyncio.get_running_loop()
        handle._task = handle._loop.create_task(coro, name=name)

        def settle(task: asyncio.Task[T]) -> None:
            if task.cancelled():
                handle._outcome.cancel()
            elif task.exception() is not None:
                handle._outcome.set_exception(task.exception())
            else:
                handle._outcome.set_result(task.result())

        handle._task.add_done_callback(settle)
        return handle

    @property
    def task(self) -> asyncio.Task[T]:
        """The job's task on its loop (for a caller on that loop: ``await handle.task``)."""
        assert self._task is not None
        return self._task

    def done(self) -> bool:
        """True once the job has ended (finished, failed or cancelled): ``result()`` would not wait."""
        return self._outcome.done()

    def status(self) -> JobStatus:
        """The store's status while it runs (PENDING before it starts); without a store, RUNNING until done."""
        if self._outcome.done() and not self._outcome.cancelled() and self._outcome.exception() is None:
            result = self._outcome.result()
            return JobStatus(getattr(result, "status", JobStatus.SUCCESS))
        if self._store is not None and self.job_id is not None:
            return JobStatus(self._store.job(self.job_id)["status"])
        if self._outcome.done():
            return JobStatus.ERROR if not self._outcome.cancelled() else JobStatus.CANCELLED
        return JobStatus.RUNNING

    def cancel(self) -> None:
        """Cancel the job: it stops starting runs and returns the finished ones, marked CANCELLED."""
        if self._loop is None or self._task is None or self._task.done():
            return
        with contextlib.suppress(RuntimeError):  # the loop may just have closed
            self._loop.call_soon_threadsafe(self._task.cancel)

    def wait(self, timeout: float | None = None) -> T:
        """The job's result once it ends (its exception re-raised); the first interrupt cancels the job,
        which then returns what finished; a second one stops waiting. ``timeout``: TimeoutError after it."""
        interrupted = self._interrupted
        if interrupted:
            self.cancel()
        with one_line_warnings():
            while True:
                try:
                    return self._wait(timeout)
                except KeyboardInterrupt:
                    if interrupted:
                        raise
                    interrupted = True
                    self.cancel()

    result = wait

    def _wait(self, timeout: float | None) -> T:
        """The outcome, re-raising a job cancelled before it could build a result as KeyboardInterrupt."""
        waited = 0.0
        while True:
            step = _POLL if timeout is None else min(_POLL, max(timeout - waited, 0.0))
            try:
                return self._outcome.result(timeout=step)
            except TimeoutError:
                waited += step
                if timeout is not None and waited >= timeout:
                    raise TimeoutError(f"job {self.job_id} still running after {timeout:g} s") from None
            except (asyncio.CancelledError, FutureCancelled):
                raise KeyboardInterrupt from None

    def __repr__(self) -> str:
        return f"JobHandle({self.job_id!r}, done={self.done()})"


def blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code in a worker thread (``JobHandle.start``), so an
    interrupt of the calling thread cancels it and still returns its result; inside a running loop
    (a notebook) this is also what keeps the kernel's loop free."""
    return JobHandle.start(coro).wait()
