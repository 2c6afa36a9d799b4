"""Jobs in the background of the server's event loop: one task per job, live progress, cancel, resume.

Each job is planned by its route, then run through ``core.api`` (``run_planned``, ``resume_async``)
as a ``JobHandle`` on the server's loop, on the server's job store, so a job started over
HTTP is the same record as one started from the CLI or a notebook. A ``LiveProgress``
reporter counts finished runs per group for status polls; the store has the rows.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from ..core.jobs.events import JobStarted, Reporter
from ..core.jobs.handle import JobHandle
from ..core.jobs.permutate_result import RunDetail
from ..core.plugins.pinned_dns import ADDRESS_CHECK, AddressCheck
from ..core.plugins.url_policy import URL_CHECK, UrlCheck
from ..core.stats.tally import Tallies
from ..core.status import ENDED, FINAL, JobStatus
from ..core.store.job_store import JobStore
from ..errors import UnknownJobError
from .registry import CANCELLED, DONE, Registry

__all__ = ["LiveProgress", "JobManager"]

log = logging.getLogger("permutate_nb.server")
_KEEP_FINAL = 1000  # ended jobs whose final progress counts are kept in memory
_SUMMARY_EVERY = 0.5  # seconds: a poll recomputes "summary so far" at most this often


class LiveProgress(Reporter):
    """Counts per group (a permutation, or a model) as runs finish; cheap on the event loop."""

    def __init__(self) -> None:
        self.job_name: str | None = None
        self.total = 0
        self.runs_per_group = 0
        self.groups: dict[str, list[int]] = {}  # name -> [done, passed, failed, errored]
        self.tallies = Tallies()  # the permutate runs' summary counts (the rows are in the store)
        self._summary: dict[str, Any] | None = None
        self._summary_at = (-1, 0.0)

    def job_started(self, event: JobStarted) -> None:
        """Records the job's name, its run count and its groups, each at zero, for the first poll."""
        self.job_name, self.total, self.runs_per_group = event.job_name, event.total_runs, event.runs_per_permutation
        for name in event.permutations:
            self.groups.setdefault(name, [0, 0, 0, 0])

    def run_finished(self, index: int, detail: Any) -> None:
        """Counts the run on its group (done, and passed, failed or errored) and tallies a permutate run's row."""
        counts = self.groups.get(detail.permutation_name)
        if counts is None:
            counts = self.groups[detail.permutation_name] = [0, 0, 0, 0]
        counts[0] += 1
        counts[1 if detail.passed else (2 if detail.is_run_completed else 3)] += 1
        if isinstance(detail, RunDetail):
            self.tallies.add(index, detail)

    def summary(self) -> dict[str, Any] | None:
        """The start-job summary of the permutate runs finished so far (None for batches and evals)."""
        done = len(self.tallies)
        if not done:
            return None
        counted, at = self._summary_at
        now = time.monotonic()
        if done != counted and now - at >= _SUMMARY_EVERY:
            self._summary = self.tallies.summary()
            self._summary_at = (done, now)
        return self._summary

    def to_dict(self) -> dict[str, Any]:
        """The progress as a status poll reports it: the totals and the counts per group."""
        totals = [sum(c[i] for c in self.groups.values()) for i in range(4)]
        return {
            "job_name": self.job_name, "done": totals[0], "total": self.total, "passed": totals[1],
            "failed": totals[2], "errored": totals[3], "runs_per_group": self.runs_per_group,
            "by_group": {name: dict(zip(("done", "passed", "failed", "errored"), c)) for name, c in self.groups.items()},
        }


Starter = Callable[[LiveProgress], Awaitable[Any]]


class JobManager:
    """Owns the job tasks of one server. ``shutdown`` leaves its jobs to be resumed by the next start."""

    def __init__(self, store: JobStore, registry: Registry, url_check: UrlCheck | None = None,
                 address_check: AddressCheck | None = None) -> None:
        self.store, self.registry = store, registry
        self.url_check = url_check  # every HTTP request of the jobs' clients passes it (core.url_policy)
        self.address_check = address_check  # and every connection's DNS answer (core.pinned_dns)
        self.tasks: dict[str, asyncio.Task[Any]] = {}
        self.progress: dict[str, LiveProgress] = {}
        self.final_progress: OrderedDict[str, dict[str, Any]] = OrderedDict()  # the last counts of ended jobs
        self._stopping = False

    def launch(self, job_id: str, kind: str, start: Starter, *, new: bool = True) -> asyncio.Task[Any]:
        """Run ``start(progress)`` as the job's task; ``new`` jobs are recorded as the server's."""
        if new:
            self.registry.add_job(job_id, kind)
        progress = self.progress[job_id] = LiveProgress()
        task = JobHandle.start_on_loop(self._guarded(job_id, start(progress), new), job_id=job_id, store=self.store,
                                       name=f"permutate-{job_id}").task
        self.tasks[job_id] = task
        task.add_done_callback(lambda t: self._finished(job_id, t))
        return task

    async def _guarded(self, job_id: str, job: Awaitable[Any], new: bool) -> Any:
        URL_CHECK.set(self.url_check)  # this task's context (and the tasks it starts) only
        ADDRESS_CHECK.set(self.address_check)
        try:
            result = await job
        except asyncio.CancelledError:
            if not self._stopping:
                self._record_if_open(job_id, JobStatus.CANCELLED, None)
            raise
        except Exception as exc:
            log.exception("job %s failed", job_id)
            if new:  # a resume refused because another process runs the job must not mark it failed
                self._record_if_open(job_id, JobStatus.ERROR, exc)
            self.registry.set_state(job_id, DONE)
            raise
        if not self._stopping:
            self.registry.set_state(job_id, DONE)
        return result

    def _record_if_open(self, job_id: str, status: str, exc: Exception | None) -> None:
        """Record how a job ended when the engine stopped before it could (while planning or starting)."""
        if self.store.job(job_id)["status"] not in FINAL:
            self.store.finish(job_id, status, error_code=type(exc).__name__ if exc else None,
                              error_message=str(exc) if exc else None)

    def _finished(self, job_id: str, task: asyncio.Task[Any]) -> None:
        self.tasks.pop(job_id, None)
        progress = self.progress.pop(job_id, None)
        if progress is not None and progress.total:  # a client polling slowly still sees the last runs counted
            self.final_progress[job_id] = progress.to_dict()
            while len(self.final_progress) > _KEEP_FINAL:
                self.final_progress.popitem(last=False)
        if not task.cancelled():
            task.exception()  # retrieved here: a job nobody waits for must not warn at exit

    def cancel(self, job_id: str) -> bool:
        """Cancel a job this server runs; its finished runs stay in the store. False if it runs nowhere here."""
        task = self.tasks.get(job_id)
        if task is None:
            return False
        self.registry.set_state(job_id, CANCELLED)
        task.cancel()
        return True

    async def wait(self, job_id: str) -> None:
        """Wait until a job this server runs has ended (however it ended); return at once if it runs nowhere here."""
        task = self.tasks.get(job_id)
        if task is not None:
            await asyncio.gather(asyncio.shield(task), return_exceptions=True)

    def resume_owned(self, resumers: dict[str, Callable[[str, LiveProgress], Awaitable[Any]]]) -> list[str]:
        """Resume the jobs a server started that did not finish (killed, or stopped with the server)."""
        resumed = []
        for row in self.registry.active_jobs():
            job_id, kind = row["job_id"], row["kind"]
            try:
                status = self.store.job(job_id)["status"]
            except UnknownJobError:
                status = None
            if status is None or status in ENDED:
                self.registry.set_state(job_id, DONE)
                continue
            self.launch(job_id, kind, functools.partial(resumers[kind], job_id), new=False)
            resumed.append(job_id)
        if resumed:
            log.info("resumed %d job(s): %s", len(resumed), ", ".join(resumed))
        return resumed

    async def shutdown(self) -> None:
        """Stop every job; they stay ``active`` in the registry, so the next start resumes them."""
        self._stopping = True
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
