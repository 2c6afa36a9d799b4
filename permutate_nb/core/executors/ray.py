"""The Ray executor: a job's units on N Ray actors, its rows back to the driver's one store.

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
import heapq
import logging
import os
import uuid
from typing import Any, Awaitable, Callable, Iterable

from ...errors import ConfigurationError, PermutateError
from ..jobs.events import Reporter
from .ray_actor import job_path
from .spec import ExecutorSpec
from ..jobs.runner import Job

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


class RayExecutor:
    """Runs units on Ray actors for ``runner.execute`` (``config.executor: {kind: ray}``)."""

    def __init__(self, spec: ExecutorSpec) -> None:
        self.spec = spec

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
        remote = ray.remote(num_cpus=1)(UnitActor)
        tag = f"permutate-{uuid.uuid4().hex[:8]}"
        request = job.shipped()
        split = shares(width, min(workers, len(todo)))
        settings = {name: os.environ[name] for name in FORWARDED if name in os.environ}
        actors = [remote.options(name=f"{tag}-{k}").remote(job_path(job), request, cache, share, settings)
                  for k, share in enumerate(split)]
        dispatch = _Dispatch(job, todo, kept)
        failed: dict[Any, BaseException] = {}

        async def accept(rows: list[tuple[int, dict[str, Any]]]) -> None:
            await asyncio.gather(*(finish(index, job.restore(index, data)) for index, data in rows))  # one commit
            for index, _ in rows:
                dispatch.arrived(index)

        async def lane(actor: Any, started: "asyncio.Future[int]", chunk: int) -> None:
            """Hand ``actor`` a chunk, take its rows as they stream back, ask for the next."""
            units: list[int] = []
            done: set[int] = set()
            try:
                await started
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
            started = asyncio.ensure_future(actor.start.remote())
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
        await _stop(ray, tasks, actors, graceful=True)
        if dispatch.crash is not None:
            raise dispatch.crash
        if dispatch.failure is not None:
            raise PermutateError(f"{dispatch.failure} ({dispatch.left} units without a row; resume the job to run them)")
        return True


async def _stop(ray: Any, tasks: list[asyncio.Task[None]], actors: list[Any], *, graceful: bool) -> None:
    """End the lanes, let the actors close their resources (a few seconds at most), then kill them."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    if graceful:
        try:
            await asyncio.wait_for(asyncio.gather(*(a.close.remote() for a in actors), return_exceptions=True), 10)
        except asyncio.TimeoutError:
            pass
    for actor in actors:
        ray.kill(actor)


def _reason(exc: BaseException) -> str:
    """The first line of a Ray error's own cause (the exception an actor raised, or why it died)."""
    cause = getattr(exc, "cause", None) or exc
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[-1] if text else ''}"
