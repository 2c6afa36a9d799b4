"""The job store: one SQLite file under ``$PERMUTATE_HOME`` for every job of every kind.

A job row holds its kind, request, status (``core.status``: PENDING, RUNNING, SUCCESS,
PARTIAL_SUCCESS, ERROR, CANCELLED, INTERRUPTED), attempts, times, error and lease; each run's result
is committed (in groups, from a writer thread) before the run is reported done, so a crash
loses nothing that finished and ``resume`` re-runs only the rest. A running job holds a lease
(owner, pid, host, since, heartbeat): a second runner of the same job is refused, and a
RUNNING job whose process died reads as INTERRUPTED. WAL mode lets a notebook read while
the CLI writes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ...errors import JobRunningError, UnknownJobError
from ..status import STATUSES, JobStatus
from .group_writer import connect, transaction
from .paths import permutate_home
from .row_json import dumps_row

__all__ = ["JobStore", "RunWriter", "ReportNow", "STATUSES", "utc_now", "HEARTBEAT_SEC", "LEASE_EXPIRY_SEC",
           "created_in_this_process"]

log = logging.getLogger("permutate_nb")

HEARTBEAT_SEC = 5.0  # how often a running job refreshes its lease
LEASE_EXPIRY_SEC = 30.0  # a lease not refreshed for this long is dead (the only test for another host)

#: ids of the jobs this process created (a notebook lists its own kernel's jobs by default)
_CREATED_HERE: set[str] = set()


def created_in_this_process() -> frozenset[str]:
    """The ids of the jobs this process created (a notebook lists its own kernel's jobs by default)."""
    return frozenset(_CREATED_HERE)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, request TEXT NOT NULL,
    status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, planned_runs INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL, started_at TEXT, ended_at TEXT, updated_at TEXT NOT NULL,
    error_code TEXT, error_message TEXT, data TEXT
);
CREATE TABLE IF NOT EXISTS runs (
    job_id TEXT NOT NULL, idx INTEGER NOT NULL, result TEXT NOT NULL, PRIMARY KEY (job_id, idx)
);
"""
_LEASE_COLUMNS = {"lease_owner": "TEXT", "lease_pid": "INTEGER", "lease_host": "TEXT", "lease_since": "TEXT",
                  "heartbeat_at": "REAL", "options": "TEXT"}  # options: the run options a resume honours
_HOST = socket.gethostname()


def utc_now() -> str:
    """Now in UTC as ISO 8601 with milliseconds and ``Z``: the store's timestamps, sortable as text."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def lease_alive(job: dict[str, Any]) -> bool:
    """Whether a job's lease is held by a live runner: refreshed lately and, on this host, its pid alive."""
    if not job.get("lease_owner"):
        return False
    if time.time() - (job.get("heartbeat_at") or 0.0) > LEASE_EXPIRY_SEC:
        return False
    return job.get("lease_host") != _HOST or _pid_alive(int(job["lease_pid"]))


def _effective_status(job: dict[str, Any]) -> JobStatus:
    """RUNNING as stored, unless nobody runs the job any more: then INTERRUPTED."""
    if job["status"] == JobStatus.RUNNING and not lease_alive(job):
        return JobStatus.INTERRUPTED
    return JobStatus(job["status"])


class RunWriter:
    """Commits run results in groups on the job's event loop; a run is reported done once committed.

    ``await save(index, result, payload)`` queues the row and returns once it is committed,
    after calling ``on_committed(index, payload)`` (the reporter's ``run_finished``): a run shown
    as done is on disk, and a worker takes its next run only then, so a kill loses at most the
    runs in flight. The first row of a group schedules one flush (``call_soon``), so the rows
    that finish in the same loop turn share one transaction. A commit in WAL mode with
    ``synchronous=NORMAL`` does no disk sync (it reaches the operating system, which is what
    survives ``kill -9``); the syncing part, checkpoints, is left to a small thread that also
    refreshes the job's lease (its heartbeat). Measured: a thread hand-off per group (writer
    thread, then ``call_soon_threadsafe`` back) cost each run milliseconds of GIL and scheduling
    latency on a loaded machine; a commit on the loop costs tens of microseconds a group.
    ``put`` commits a row without a loop (tests, tools); ``close()`` commits the rest.
    """

    _SQL = "INSERT OR REPLACE INTO runs (job_id, idx, result) VALUES (?, ?, ?)"

    def __init__(self, path: Path, job_id: str, *, on_committed: Callable[[int, Any], None] | None = None,
                 lease: str | None = None) -> None:
        self._path, self._job_id, self._lease, self._on_committed = path, job_id, lease, on_committed
        self._conn = connect(path)
        self._conn.execute("PRAGMA wal_autocheckpoint=0")  # the checkpoint thread syncs, never the loop
        self._pending: list[tuple[int, dict[str, Any], asyncio.Future[None] | None]] = []
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._background, name=f"permutate-lease-{job_id}", daemon=True)
        self._beat.start()

    def _background(self) -> None:
        conn = connect(self._path)
        try:
            while not self._stop.wait(HEARTBEAT_SEC):
                if self._lease:
                    conn.execute("UPDATE jobs SET heartbeat_at=? WHERE id=? AND lease_owner=?",
                                 (time.time(), self._job_id, self._lease))
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            conn.close()

    def put(self, index: int, result: dict[str, Any]) -> None:
        """Store row ``index`` now (outside an event loop): no one waits for its commit."""
        self._pending.append((index, result, None))
        self._flush()

    async def save(self, index: int, result: dict[str, Any], payload: Any) -> None:
        """Store row ``index``, committed with the rows saved in the same loop turn; ``on_committed`` follows."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self._pending.append((index, result, done))
        if len(self._pending) == 1:
            loop.call_soon(self._flush)
        await done
        if self._on_committed is not None:
            self._on_committed(index, payload)

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        job_id = self._job_id
        rows = [(job_id, i, dumps_row(r)) for i, r, _ in batch]
        try:
            with transaction(self._conn):
                self._conn.executemany(self._SQL, rows)
        except BaseException as exc:
            for _, _, done in batch:
                if done is not None and not done.done():
                    done.set_exception(exc)
            raise
        for _, _, done in batch:
            if done is not None and not done.done():
                done.set_result(None)

    def close(self) -> None:
        """Commit the rest and stop (outside an event loop; a job awaits ``aclose``)."""
        self._flush()
        self._stop.set()
        self._beat.join()
        self._conn.close()

    async def aclose(self) -> None:
        """``close`` on an event loop: the last rows committed there, the heartbeat joined in a thread."""
        self._flush()  # on the loop, like every commit of this writer
        self._stop.set()
        await asyncio.to_thread(self._beat.join)  # it may be in a checkpoint
        self._conn.close()


class ReportNow:
    """The writer of a job that is not stored: a run is reported done at once."""

    def __init__(self, on_committed: Callable[[int, Any], None]) -> None:
        self._on_committed = on_committed

    async def save(self, index: int, result: dict[str, Any], payload: Any) -> None:
        """Report the run done at once: there is nothing to commit."""
        self._on_committed(index, payload)

    async def aclose(self) -> None:
        """Nothing to close: this writer holds no connection."""
        return None


class JobStore:
    """Every job of every kind and each of its runs' rows, in one SQLite file (``$PERMUTATE_HOME/jobs.sqlite``).

    The store is the source of truth: a run's row is committed (by a ``RunWriter``, in groups) before
    the run is reported done, so results, progress, ``permutate jobs`` and ``resume`` read the same
    thing and a crash loses only the calls in flight. WAL mode lets a notebook read while a CLI writes.
    A running job holds a lease (pid, host, heartbeat) so that two processes never run one job.
    Requests are stored without secrets. Safe to share between threads (one lock around the connection).
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or permutate_home() / "jobs.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = connect(self.path)
        self._conn.executescript(_SCHEMA)
        have = {row[1] for row in self._conn.execute("PRAGMA table_info(jobs)")}
        for column, kind in _LEASE_COLUMNS.items():  # stores made before leases existed
            if column not in have:
                try:
                    self._conn.execute(f"ALTER TABLE jobs ADD COLUMN {column} {kind}")
                except sqlite3.OperationalError:  # another process added it first
                    pass
        self._lock = threading.Lock()
        self._leases: dict[str, str] = {}

    def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._conn.execute(sql, params)

    def create_job(self, kind: str, name: str, request: dict[str, Any], planned_runs: int) -> str:
        """Record a new PENDING job and return its id (12 hex digits), remembered as made in this process."""
        job_id = uuid.uuid4().hex[:12]
        _CREATED_HERE.add(job_id)
        now = utc_now()
        self._execute(
            "INSERT INTO jobs (id, kind, name, request, status, planned_runs, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, 'PENDING', ?, ?, ?)",
            (job_id, kind, name, json.dumps(request, ensure_ascii=False), planned_runs, now, now),
        )
        return job_id

    def acquire_lease(self, job_id: str) -> None:
        """Take the job's lease for this process, or raise JobRunningError naming who holds it.

        One transaction (``BEGIN IMMEDIATE``), so of two resumes started at once exactly one
        wins. A lease whose heartbeat expired, or whose process on this host is gone, is free.
        """
        owner = uuid.uuid4().hex
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                cursor = self._conn.execute(
                    "SELECT id, lease_owner, lease_pid, lease_host, lease_since, heartbeat_at FROM jobs WHERE id=?",
                    (job_id,))
                row = cursor.fetchone()
                if row is None:
                    raise UnknownJobError(f"no job {job_id!r} in {self.path}; `permutate jobs` lists the jobs")
                held = dict(zip([c[0] for c in cursor.description], row))
                if lease_alive(held):
                    raise JobRunningError(
                        f"job {job_id} is already running in pid {held['lease_pid']}@{held['lease_host']} "
                        f"since {held['lease_since']}; wait for it to finish, or stop that process first")
                self._conn.execute(
                    "UPDATE jobs SET lease_owner=?, lease_pid=?, lease_host=?, lease_since=?, heartbeat_at=? WHERE id=?",
                    (owner, os.getpid(), _HOST, utc_now(), time.time(), job_id))
                self._conn.execute("COMMIT")
                log.debug("job %s: lease taken by pid %d", job_id, os.getpid())
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        self._leases[job_id] = owner

    def start(self, job_id: str, options: dict[str, Any] | None = None) -> None:
        """Mark the job RUNNING. A resumed job keeps its first ``started_at`` and the run ``options``
        (``cache``, ``concurrency``...) it was first started with: a resume honours them."""
        now = utc_now()
        self._execute(
            "UPDATE jobs SET status='RUNNING', attempts=attempts+1, started_at=COALESCE(started_at, ?), ended_at=NULL, "
            "updated_at=?, error_code=NULL, error_message=NULL, options=COALESCE(options, ?) WHERE id=?",
            (now, now, json.dumps(options or {}), job_id))

    def finish(self, job_id: str, status: str, data: dict[str, Any] | None = None, *,
               error_code: str | None = None, error_message: str | None = None) -> None:
        """Record the job's end and give up its lease."""
        assert status in STATUSES, status
        now = utc_now()
        self._execute(
            "UPDATE jobs SET status=?, ended_at=?, updated_at=?, error_code=?, error_message=?, data=?, "
            "lease_owner=NULL, lease_pid=NULL, lease_host=NULL, lease_since=NULL, heartbeat_at=NULL WHERE id=?",
            (status, now, now, error_code, error_message, json.dumps(data, default=str) if data is not None else None, job_id),
        )
        self._leases.pop(job_id, None)

    def run_writer(self, job_id: str, on_committed: Callable[[int, Any], None] | None = None) -> RunWriter:
        """The job's row writer; it keeps the lease this store took for the job alive."""
        return RunWriter(self.path, job_id, on_committed=on_committed, lease=self._leases.get(job_id))

    def job(self, job_id: str) -> dict[str, Any]:
        """The job's record: status (a dead lease shows), request, data, options and its count of finished runs."""
        cursor = self._execute("SELECT * FROM jobs WHERE id=?", (job_id,))
        row = cursor.fetchone()
        if row is None:
            raise UnknownJobError(f"no job {job_id!r} in {self.path}; `permutate jobs` lists the jobs")
        job = dict(zip([c[0] for c in cursor.description], row))
        job["status"] = _effective_status(job)
        job["request"] = json.loads(job["request"])
        job["data"] = json.loads(job["data"]) if job["data"] else None
        job["options"] = json.loads(job["options"]) if job.get("options") else {}
        job["finished_runs"] = self._execute("SELECT COUNT(*) FROM runs WHERE job_id=?", (job_id,)).fetchone()[0]
        return job

    def runs(self, job_id: str) -> dict[int, dict[str, Any]]:
        """The job's stored rows by run index."""
        rows = self._execute("SELECT idx, result FROM runs WHERE job_id=? ORDER BY idx", (job_id,)).fetchall()
        return {idx: json.loads(result) for idx, result in rows}

    def jobs(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Every job (of ``kind``, if given), oldest first, with its finished runs: what ``permutate jobs`` lists."""
        sql = ("SELECT j.id, j.kind, j.name, j.status, j.attempts, j.planned_runs, "
               "(SELECT COUNT(*) FROM runs r WHERE r.job_id = j.id) AS finished_runs, "
               "j.created_at, j.started_at, j.ended_at, j.error_code, j.error_message, "
               "j.lease_owner, j.lease_pid, j.lease_host, j.heartbeat_at FROM jobs j")
        params: tuple[Any, ...] = ()
        if kind:
            sql += " WHERE j.kind=?"
            params = (kind,)
        cursor = self._execute(sql + " ORDER BY j.created_at", params)
        names = [c[0] for c in cursor.description]
        records = []
        for row in cursor.fetchall():
            job = dict(zip(names, row))
            job["status"] = _effective_status(job)
            for column in ("lease_owner", "lease_pid", "lease_host", "heartbeat_at"):
                del job[column]
            records.append(job)
        return records

    def close(self) -> None:
        """Close the store's connection."""
        self._conn.close()
