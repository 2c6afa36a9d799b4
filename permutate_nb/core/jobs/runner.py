"""The one job runner: every job kind (permutate, batch, eval) runs through ``execute``.

A job kind implements ``Job``: its units (indices ``0..size-1``), how one unit runs, the
row a unit that failed or ran out of time leaves, how rows are stored and restored, what a
reporter sees of a row, and how the finished rows become a status and a result. ``execute``
does the rest the same way for all of them: the job store (create, start, each row as it
finishes, finish; the store is the source of truth, and in memory stays only what
``Job.keep`` keeps: every row by default, a permutate job its summary's counts), a bounded
pool of workers, one deadline per unit covering its retries
(``core.deadline``), reporter events, cancellation (the finished rows come back in a result
marked CANCELLED) and resume (units with a stored row are not run again).

``jobs.launch`` picks the executor; ``jobs.handle`` runs a job in the background and waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from ...errors import PermutateError
from ..context import Context, default_context
from ..executors.base import AsyncioExecutor, Executor
from ..status import ERROR, Ending
from ..store.job_store import ReportNow
from ..store.stored_rows import StoredRows
from .deadline import Deadlines
from .events import JobStarted, Reporter
from .gc_pause import fewer_collections
from .result_base import Result

__all__ = ["Job", "Board", "Finished", "execute", "create_record", "run_options"]

Row = TypeVar("Row")
T = TypeVar("T")


class Board(Generic[Row]):
    """Every finished row in its unit's place: what a job keeps by default, and what a unit that needs
    an earlier one's row (a batch's ``${output.n}``) waits on."""

    def __init__(self, size: int) -> None:
        self.rows: list[Row | None] = [None] * size
        self._events: dict[int, asyncio.Event] = {}

    async def wait(self, index: int) -> Row | None:
        """The row of unit ``index`` once it has one."""
        if self.rows[index] is None:
            event = self._events.setdefault(index, asyncio.Event())
            await event.wait()
        return self.rows[index]

    def add(self, index: int, row: Row) -> None:
        """Put unit ``index``'s row in its place and wake whoever waits for it."""
        self.rows[index] = row
        event = self._events.get(index)
        if event is not None:
            event.set()

    def finished(self) -> list[Row]:
        """The finished rows, in unit order."""
        return [row for row in self.rows if row is not None]


@dataclass(slots=True)
class Finished(Generic[Row]):
    """What ``execute`` hands a job to build its result from."""

    job_id: str
    kept: Any  # what the job kept of its finished rows (``Job.keep``): a Board by default
    status: str
    error_code: str | None
    error_message: str | None
    elapsed: float  # seconds of wall time, over every attempt of a resumed job
    record: dict[str, Any] | None  # the stored job after finishing, when there is a store
    store: Any = None  # the job store holding the rows (a result may read them from there)


class Job(ABC, Generic[Row]):
    """One job kind's side of the runner. Units are ``0..size-1``; a row is what one unit produced."""

    kind: ClassVar[str]
    name: str
    width: int = 8  # default pool width
    deadline: float | None = None  # seconds per unit, retries included
    executor: Any = None  # its ``config.executor`` spec, for ``jobs.launch`` (``executors.choose``); None: in-process

    @classmethod
    @abstractmethod
    def from_request(cls, request: dict[str, Any]) -> Job[Any]:
        """The job planned again from its stored request (resume)."""

    @classmethod
    @abstractmethod
    def stored_result(cls, job: dict[str, Any], rows: StoredRows[dict[str, Any]]) -> Result:
        """Its result from the stored record and rows (``pn.results``, also while it runs); the rows
        are read from the store as the result uses them."""

    @property
    @abstractmethod
    def size(self) -> int:
        """How many units the job has (planned runs)."""

    @abstractmethod
    def request(self) -> dict[str, Any]:
        """What the store keeps to resume the job (no secrets)."""

    @abstractmethod
    def resources(self, cache: bool | None, width: int, context: Any) -> Any:
        """The job's clients and pools (``JobResources``); closed by the runner."""

    def admission(self, context: Any) -> contextlib.AbstractAsyncContextManager[Any]:
        """Held while the job runs; a batch waits here for a MAX_CONCURRENT_BATCHES slot."""
        return contextlib.nullcontext()

    @abstractmethod
    async def prepare(self, resources: Any, width: int, reporter: Reporter) -> JobStarted:
        """Work before the units (loading a local model, translating prompts, each a ``reporter.stage``);
        returns the start event for reporters."""

    def shipped(self) -> dict[str, Any]:
        """What a remote executor's workers plan the job from (``from_request``): the stored request,
        plus what ``prepare`` settled that every worker must share (a permutate job's translations)."""
        return self.request()

    def order(self) -> Iterable[int]:
        """The units in the order they are scheduled (default: unit order). A permutate job interleaves
        permutations, languages and cases, so a job stopped early is a balanced sample."""
        return range(self.size)

    def resumed(self, record: dict[str, Any]) -> None:
        """Told the stored record before the job runs again (a resume): a job keeps what it first recorded."""

    def needs(self, index: int) -> tuple[int, ...]:
        """The units whose rows ``ready`` waits for (a job with any keeps a ``Board``); a remote
        executor starts a unit after them."""
        return ()

    async def ready(self, index: int, board: Any) -> Row | None:
        """Wait for what unit ``index`` needs (not timed; ``board`` is what ``keep`` returned); a row here
        ends the unit without running it."""
        return None

    @abstractmethod
    async def run(self, index: int, resources: Any) -> Row:
        """Run one unit; a PermutateError or any exception becomes ``failed``'s row."""

    @abstractmethod
    def failed(self, index: int, error: str, elapsed: float, attempts: int, timed_out: bool) -> Row:
        """The row of a unit that raised ``error`` or (``timed_out``) ran past its deadline."""

    def timeout_message(self) -> str:
        """The error a timed-out unit's row carries; a kind overrides it to name the limit its users set."""
        return f"no answer within the run's deadline of {self.deadline:g} s (retries included)"

    @abstractmethod
    def dump(self, row: Row) -> dict[str, Any]:
        """A row as the store keeps it."""

    @abstractmethod
    def restore(self, index: int, data: dict[str, Any]) -> Row:
        """A stored row back (resume)."""

    def seen(self, row: Row) -> Any:
        """What reporters receive for a row: ``permutation_name``, ``is_run_completed``, ``passed``."""
        return row

    def keep(self, stored: bool) -> Any:
        """What the job keeps of its rows as they finish (``add(index, row)``): by default all of them,
        a ``Board``. A job whose rows are in a store (``stored``) and that needs no row of another
        unit keeps less, e.g. its summary's counts, so its memory does not grow with its size."""
        return Board(self.size)

    @abstractmethod
    def status(self, kept: Any, finished: bool) -> Ending:
        """How the job ended, from what ``keep`` kept; ``finished`` False if cancelled."""

    def store_data(self, kept: Any, elapsed: float) -> dict[str, Any]:
        """The summary kept in the job's record."""
        return {"rows": len(kept.finished())}

    @abstractmethod
    def result(self, finished: Finished[Row]) -> Result:
        """The job's result object."""


@contextlib.asynccontextmanager
async def _guard(store: Any, job_id: str, writer: Any, resources: Any) -> AsyncIterator[None]:
    """A failure of the job itself is recorded as ERROR before it propagates; the run writer and
    the job's resources are closed whatever happens."""
    try:
        yield
    except BaseException as exc:
        if store is not None and not isinstance(exc, asyncio.CancelledError):
            store.finish(job_id, ERROR, error_code=type(exc).__name__, error_message=str(exc))
        raise
    finally:
        await asyncio.shield(writer.aclose())
        await asyncio.shield(resources.aclose())


async def execute(job: Job[Row], *, store: Any = None, job_id: str | None = None,
                  done: Iterable[tuple[int, dict[str, Any]]] = (), reporter: Reporter | None = None,
                  concurrency: int | None = None, cache: bool | None = None, context: Context | None = None,
                  executor: Executor | None = None) -> Result:
    """Run ``job`` (its units without a row in ``done``, stored ``(index, row)`` pairs) and return its result.

    With a ``store`` the job is created there (unless ``job_id`` names a stored one), every
    finished row is written as it finishes and the job ends with its status. What stays in
    memory of the rows is what ``job.keep`` keeps. ``executor`` runs the units (default: in this
    process; ``jobs.launch`` turns the job's ``config.executor`` into one).
    """
    executor = executor or AsyncioExecutor()
    context = context or default_context()
    reporter = reporter or Reporter()
    if job_id is None:
        job_id = create_record(job, store)
    width = concurrency or job.width
    kept = job.keep(store is not None)
    finished_units = bytearray(job.size)  # 1 for a unit with a row
    restored: list[tuple[int, Any]] = []  # reported once the job has started
    for index, data in done:
        if 0 <= index < job.size:
            row = job.restore(index, data)
            kept.add(index, row)
            finished_units[index] = 1
            restored.append((index, job.seen(row)))
    deadlines = Deadlines(job.deadline) if job.deadline is not None else None
    earlier = _earlier(job, store, job_id)
    started = time.perf_counter()

    def conclude(finished: bool) -> Result:
        elapsed = earlier + time.perf_counter() - started
        status, code, message = job.status(kept, finished)
        record = None
        if store is not None:
            data = {"total_run_time": round(elapsed, 3), **job.store_data(kept, elapsed)}
            store.finish(job_id, status, data, error_code=code, error_message=message)
            record = store.job(job_id)
        result = job.result(Finished(job_id, kept, status, code, message, elapsed, record, store))
        reporter.job_finished(result)
        return result

    try:
        async with job.admission(context):  # held until the job is finished in the store
            finished = False
            if store is not None:
                store.acquire_lease(job_id)  # refuses a job another live process runs
                store.start(job_id, run_options(concurrency, cache))
            # a unit is reported done once its row is committed
            writer = store.run_writer(job_id, reporter.run_finished) if store is not None else ReportNow(reporter.run_finished)
            resources = job.resources(cache, width, context)
            try:
                async with _guard(store, job_id, writer, resources):
                    finish = _finisher(job, kept, writer)
                    work = _worker(job, resources, kept, finish, reporter, deadlines)
                    reporter.job_started(await job.prepare(resources, width, reporter))
                    for index, seen in restored:
                        reporter.run_finished(index, seen)
                    restored.clear()
                    sweeper = asyncio.create_task(deadlines.sweep()) if deadlines is not None else None
                    try:
                        units = (i for i in job.order() if not finished_units[i])
                        with fewer_collections():
                            finished = await executor.run(job, units, work=work, kept=kept, finish=finish,
                                                          reporter=reporter, width=width, cache=cache)
                    finally:
                        if sweeper is not None:
                            sweeper.cancel()
            except asyncio.CancelledError:  # cancelled while preparing: nothing more runs
                _uncancel()
            return conclude(finished)
    except asyncio.CancelledError:  # cancelled while waiting for a slot: nothing ran
        _uncancel()
        return conclude(False)


def create_record(job: Job[Any], store: Any) -> str:
    """A new job's id: its record created in ``store`` (PENDING), or a fresh id when nothing is stored.
    The one place a job is created: ``execute``, and ``api.submit`` (a handle has the id at once)."""
    return store.create_job(job.kind, job.name, job.request(), job.size) if store is not None else uuid.uuid4().hex[:12]


def run_options(concurrency: int | None, cache: bool | None) -> dict[str, Any]:
    """The run options given explicitly, as the store keeps them for a resume (None: the job's own default)."""
    given = {"concurrency": concurrency, "cache": cache}
    return {key: value for key, value in given.items() if value is not None}


def _earlier(job: Job[Any], store: Any, job_id: str | None) -> float:
    """Seconds the job already ran in earlier attempts (0 for a new job); tells the job its record."""
    if store is None or job_id is None:
        return 0.0
    record = store.job(job_id)
    if not record.get("data"):
        return 0.0
    job.resumed(record)
    return float(record["data"].get("total_run_time") or 0.0)


def _finisher(job: Job[Row], kept: Any, writer: Any) -> Callable[[int, Row], Awaitable[None]]:
    """What becomes of a unit's row, wherever it ran: kept (``job.keep``), then committed and reported
    (the writer reports a row once it is committed)."""
    sees = type(job).seen is not Job.seen  # reporters get the row itself unless the job says otherwise

    async def finish(index: int, row: Row) -> None:
        kept.add(index, row)  # before the commit: a cancellation while it waits leaves the row in both
        await writer.save(index, job.dump(row), job.seen(row) if sees else row)

    return finish


def _worker(job: Job[Row], resources: Any, kept: Any, finish: Callable[[int, Row], Awaitable[None]],
            reporter: Reporter, deadlines: Deadlines | None) -> Callable[[int], Awaitable[None]]:
    """What one pool worker does with one unit: wait for what it needs, run it within its deadline,
    then ``finish`` its row (kept, committed, reported). This is the hot path: one call per unit, kept flat."""
    waits = type(job).ready is not Job.ready  # only a job with dependencies between units waits

    async def work(index: int) -> None:
        reporter.run_started(index)
        row = await job.ready(index, kept) if waits else None
        if row is None:
            t0 = time.perf_counter()
            if deadlines is None:
                try:
                    row = await job.run(index, resources)
                except Exception as exc:  # noqa: BLE001 - a failed unit is a row, not the job's end
                    row = _failed(job, index, exc, time.perf_counter() - t0)
            else:
                clock = deadlines.clock()
                clock.start(deadlines.seconds)
                try:
                    row = await job.run(index, resources)
                except BaseException as exc:  # the sweeper's cancellation, or a failure
                    late = clock.stop()
                    if clock.task.cancelling() or not isinstance(exc, Exception) and not late:
                        raise  # the job itself is being cancelled (Ctrl-C), not just this unit
                    if late:
                        row = job.failed(index, job.timeout_message(), time.perf_counter() - t0, 1, True)
                    else:
                        row = _failed(job, index, exc, time.perf_counter() - t0)
                else:
                    if clock.expired:
                        clock.stop()  # finished as its deadline came: the row stands
                    else:
                        clock.due = None
        await finish(index, row)

    return work


def _uncancel() -> None:
    """Take back a cancellation the job answers with its result (marked CANCELLED) instead of raising."""
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()


def _failed(job: Job[Row], index: int, exc: BaseException, elapsed: float) -> Row:
    if isinstance(exc, PermutateError):
        return job.failed(index, str(exc), elapsed, getattr(exc, "attempts", 1), False)
    return job.failed(index, f"{type(exc).__name__}: {exc}", elapsed, 1, False)  # a bug in one unit must not lose the job
