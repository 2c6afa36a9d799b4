"""The Ray executor: a job's units on N Ray actors, its rows back to the driver's one store.

Actors outlive jobs: a finished job's actors go back to this process's pool (``_Pool``) and the
next job on the same cluster takes them, so a job's fixed cost (starting worker processes,
importing the package) is paid once per process, not once per job (``benchmarks/ray_scale.py``
reports the two apart). A cancelled job's actors, or an actor that failed, are killed instead.

``runner.execute`` plans and prepares the job here (the driver) and hands its units to
``RayExecutor.run`` instead of the in-process pool. The driver ships the plan (``Job.shipped``,
the stored request plus settled translations) to N ``ray_actor.UnitActor``s, each running the
same runner code with ``width / N`` workers: the job's ``concurrency`` stays the bound on calls in
flight across the cluster, so a provider's concurrency limit holds cluster-wide at no cost per
call (a shared semaphore actor would add a round trip to every call and one process all calls
queue on). Units go out in small chunks (an actor's pool, at most 16) on demand, a few lanes
per actor, each lane asking for its next chunk when its last one is done: an actor never holds
more than its pool and a chunk or two, so a slow one never holds up the job. Rows stream back
per chunk as they finish (a message per chunk, or per 20 ms: each costs the driver CPU); the
driver restores each and finishes it as an in-process worker does (``runner._finisher``: kept,
committed through the job's ``RunWriter``, reported).

A unit with dependencies (a batch row's ``${output.n}``, ``Job.needs``) is handed out only once
the rows it needs are in, and they travel with it. An actor that dies has the units it had not
answered handed to the others; the job fails only when none is left. Cancelling (Ctrl-C) kills
the actors; the committed rows stay.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import os
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from ...errors import ConfigurationError, PermutateError
from ..jobs.events import Reporter
from ..jobs.runner import Job
from .ray_actor import job_path
from .spec import ExecutorSpec

__all__ = ["RayExecutor", "connect", "shares"]

MAX_CHUNK = 16  # units per hand-out at most
#: the driver's settings its actors get, so they plan the same job (never keys: a cluster's workers hold their own)
FORWARDED = ("OPENAI_BASE_URL", "PERMUTATE_URL_MAP", "PERMUTATE_PRICES", "PERMUTATE_MAX_RESPONSE_BYTES",
             "EXECUTION_TIMEOUT", "DEFAULT_MAX_THREADS", "MAX_EXECUTIONS_PER_BATCH", "MAX_PROMPT_LENGTH",
             "ASSISTANTS_DEFAULT_MODEL_ID_OR_NAME")


def connect(address: str | None) -> Any:
    """The ``ray`` module, connected: the running instance, else ``address`` (None: a new local one).

    Usage statistics stay off unless the cluster's operator turned them on.
    """
    import ray

    if not ray.is_initialized():
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        log = logging.getLogger("ray")
        level = log.level
        log.setLevel(logging.ERROR)  # not its warning that a job thread sets no SIGTERM handler
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        except Exception as exc:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ... for one cause
            where = f"the Ray cluster at {address!r}" if address else "a local Ray instance"
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigurationError(f"executor: cannot connect to {where}: {reason} (start one with "
                                     "`ray start --head`, or leave the address out for a local instance)") from None
        finally:
            log.setLevel(level)
    return ray


def shares(width: int, actors: int) -> list[int]:
    """``width`` workers split over at most ``actors`` actors, none idle: [3, 3, 2] for 8 over 3."""
    n = max(1, min(width, actors))
    return [width // n + (k < width % n) for k in range(n)]


class _Dispatch:
    """The units not yet handed out, in order, and those waiting for rows they need."""

    def __init__(self, job: Job[Any], todo: list[int], kept: Any) -> None:
        self.ready: list[int] = []
        self.blocked: dict[int, int] = {}  # unit -> rows it still waits for
        self.waiters: dict[int, list[int]] = {}  # unit -> units waiting for its row
        for index in todo:
            missing = [d for d in job.needs(index) if kept.rows[d] is None]
            if missing:
                self.blocked[index] = len(missing)
                for d in missing:
                    self.waiters.setdefault(d, []).append(index)
            else:
                self.ready.append(index)
        self.left = len(todo)  # units without a row yet
        self.changed = asyncio.Event()
        self.failure: str | None = None  # every actor failed
        self.crash: BaseException | None = None  # the driver's own side failed (storing a row)

    def take(self, most: int) -> list[int]:
        return [heapq.heappop(self.ready) for _ in range(min(most, len(self.ready)))]

    def give_back(self, units: list[int]) -> None:
        for index in units:
            heapq.heappush(self.ready, index)
        self.changed.set()

    def arrived(self, index: int) -> None:
        self.left -= 1
        for waiter in self.waiters.pop(index, ()):
            self.blocked[waiter] -= 1
            if not self.blocked[waiter]:
                del self.blocked[waiter]
                heapq.heappush(self.ready, waiter)
        self.changed.set()

    def crashed(self, exc: BaseException) -> None:
        self.crash = self.crash or exc
        self.changed.set()

    @property
    def over(self) -> bool:
        return self.left == 0 or self.failure is not None or self.crash is not None


class _Pool:
    """Idle actors of this process, per cluster address; taken by a job, given back when it ends well.

    An idle actor still holds its CPU on the cluster, so one left idle for ``IDLE_S`` seconds is killed
    (a burst of jobs shares actors; a quiet process gives the cluster its CPUs back)."""

    IDLE_S = 30.0

    def __init__(self) -> None:
        self._idle: dict[Any, list[tuple[Any, float]]] = {}  # (address, node, Ray job) -> (idle actor, since)
        self._lock = threading.Lock()

    def take(self, key: Any, count: int) -> list[Any]:
        """Up to ``count`` idle actors of ``key``'s connection. ``ray.init`` is one per process, so actors
        under another key belong to a connection that has ended (``ray.shutdown``): their owner is gone,
        and so are they. They are dropped, never handed out."""
        with self._lock:
            for stale in [other for other in self._idle if other != key]:
                del self._idle[stale]
            idle = self._idle.setdefault(key, [])
            taken, self._idle[key] = idle[:count], idle[count:]
            return [actor for actor, _ in taken]

    def give_back(self, key: Any, actors: list[Any]) -> None:
        with self._lock:
            self._idle.setdefault(key, []).extend((actor, time.monotonic()) for actor in actors)
        timer = threading.Timer(self.IDLE_S + 0.1, self._reap)
        timer.daemon = True
        timer.start()

    def _reap(self) -> None:
        """Kill the actors idle for IDLE_S or more."""
        now = time.monotonic()
        with self._lock:
            old = [a for idle in self._idle.values() for a, since in idle if now - since >= self.IDLE_S]
            for key, idle in self._idle.items():
                self._idle[key] = [(a, since) for a, since in idle if now - since < self.IDLE_S]
        if old:
            import ray

            for actor in old:
                with contextlib.suppress(Exception):
                    ray.kill(actor)

    def clear(self, ray: Any = None) -> int:
        """Kill every idle actor (``ray.shutdown`` would too); returns how many there were."""
        with self._lock:
            actors = [a for idle in self._idle.values() for a, _ in idle]
            self._idle.clear()
        for actor in actors if ray is not None else ():
            with contextlib.suppress(Exception):
                ray.kill(actor)
        return len(actors)


POOL = _Pool()


class RayExecutor:
    """Runs units on Ray actors for ``runner.execute`` (``config.executor: {kind: ray}``)."""

    def __init__(self, spec: ExecutorSpec) -> None:
        self.spec = spec
        self.pids: list[int] = []  # the worker processes the last job ran on (for logs and tests)

    async def run(self, job: Job[Any], todo: Iterable[int], *, work: Callable[[int], Awaitable[None]], kept: Any,
                  finish: Callable[[int, Any], Awaitable[None]], reporter: Reporter, width: int,
                  cache: bool | None) -> bool:
        """Run ``todo`` remotely; every row that comes back is ``finish``ed (kept, committed, reported) as an
        in-process worker's is; ``kept`` holds the rows units wait for (``Job.needs``). False if cancelled."""
        todo = list(todo)
        if not todo:
            return True
        ray = await asyncio.to_thread(connect, self.spec.address)
        from .ray_actor import UnitActor

        workers = self.spec.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        request = job.shipped()
        split = shares(width, min(workers, len(todo)))
        settings = {name: os.environ[name] for name in FORWARDED if name in os.environ}
        context = ray.get_runtime_context()  # a new ray.init, even of a new local instance, is a new node id
        key = (self.spec.address, context.get_node_id(), context.get_job_id())
        actors = POOL.take(key, len(split))
        if len(actors) < len(split):
            remote = ray.remote(num_cpus=1)(UnitActor)
            tag = f"permutate-{uuid.uuid4().hex[:8]}"
            actors += [remote.options(name=f"{tag}-{k}").remote() for k in range(len(split) - len(actors))]
        path = job_path(job)
        starts = {actor: asyncio.ensure_future(actor.start.remote(path, request, cache, share, settings))
                  for actor, share in zip(actors, split)}
        self.pids = []
        dispatch = _Dispatch(job, todo, kept)
        failed: dict[Any, BaseException] = {}

        async def accept(rows: list[tuple[int, dict[str, Any]]]) -> None:
            await asyncio.gather(*(finish(index, job.restore(index, data)) for index, data in rows))  # one commit
            for index, _ in rows:
                dispatch.arrived(index)

        async def lane(actor: Any, started: asyncio.Future[int], chunk: int) -> None:
            """Hand ``actor`` a chunk, take its rows as they stream back, ask for the next."""
            units: list[int] = []
            done: set[int] = set()
            try:
                await asyncio.shield(started)  # a lane that ends early must not cancel its actor's start
                while not dispatch.over and actor not in failed:
                    units, done = dispatch.take(chunk), set()
                    if not units:
                        dispatch.changed.clear()
                        await dispatch.changed.wait()
                        continue
                    needed = {d: job.dump(kept.rows[d]) for i in units for d in job.needs(i)}
                    for index in units:
                        reporter.run_started(index)
                    async for ref in actor.run.options(num_returns="streaming").remote(units, needed):
                        rows = await ref
                        await accept(rows)
                        done.update(index for index, _ in rows)
                    units = []
            except ray.exceptions.RayError as exc:  # the actor died or could not start the job
                failed.setdefault(actor, exc)
                dispatch.give_back([i for i in units if i not in done])
            except Exception as exc:  # noqa: BLE001 - raised by run() once the actors are stopped
                dispatch.crashed(exc)

        async def serve(actor: Any, share: int) -> None:
            """An actor's lanes (its pool plus one chunk in hand); a failed actor leaves its units to the others."""
            chunk = max(1, min(MAX_CHUNK, share))
            started = starts[actor]
            await asyncio.gather(*(lane(actor, started, chunk) for _ in range(-(-share // chunk) + 1)))
            if actor in failed:
                ray.kill(actor)
                if len(failed) == len(actors):
                    dispatch.failure = f"every Ray actor of the job failed; the last: {_reason(failed[actor])}"
                dispatch.changed.set()

        tasks = [asyncio.create_task(serve(actor, share)) for actor, share in zip(actors, split)]
        try:
            while not dispatch.over:
                dispatch.changed.clear()
                await dispatch.changed.wait()
        except asyncio.CancelledError:
            await _stop(ray, tasks, actors, graceful=False)
            return False
        outcomes = await asyncio.gather(*starts.values(), return_exceptions=True)  # each actor is closed after its start
        self.pids = [pid for pid in outcomes if isinstance(pid, int)]
        closed = await _stop(ray, tasks, [a for a in actors if a not in failed], graceful=True)
        POOL.give_back(key, closed)
        if dispatch.crash is not None:
            raise dispatch.crash
        if dispatch.failure is not None:
            raise PermutateError(f"{dispatch.failure} ({dispatch.left} units without a row; resume the job to run them)")
        return True


async def _stop(ray: Any, tasks: list[asyncio.Task[None]], actors: list[Any], *, graceful: bool) -> list[Any]:
    """End the lanes; ``graceful``: let the actors close the job (a few seconds at most) and return those
    that did, for the pool; the others (all of them when not graceful) are killed."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    closed: list[Any] = []
    if graceful:
        try:
            outcomes = await asyncio.wait_for(
                asyncio.gather(*(a.close.remote() for a in actors), return_exceptions=True), 10)
            closed = [a for a, outcome in zip(actors, outcomes) if not isinstance(outcome, BaseException)]
        except TimeoutError:
            pass
    for actor in actors:
        if actor not in closed:
            ray.kill(actor)
    return closed


def _reason(exc: BaseException) -> str:
    """The first line of a Ray error's own cause (the exception an actor raised, or why it died)."""
    cause = getattr(exc, "cause", None) or exc
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[-1] if text else ''}"
