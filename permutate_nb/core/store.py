"""The job store: one SQLite file under ``$PERMUTATE_HOME`` for every job of every kind.

A job row holds its kind, request, status (``core.status``: PENDING, RUNNING, SUCCESS,
PARTIAL_SUCCESS, ERROR, CANCELLED, INTERRUPTED), attempts, times and error; each run's result is written as it
finishes, so a crash loses nothing that finished and ``resume`` re-runs only the rest.
Writes go through one writer thread in small batches (the event loop never waits on a
disk sync); WAL mode lets a notebook read while the CLI writes.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import UnknownJobError
from .paths import permutate_home
from .status import STATUSES

__all__ = ["JobStore", "RunWriter", "STATUSES", "utc_now"]

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


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class RunWriter:
    """Writes run results from a worker thread, in batches; ``close()`` waits for the last one.

    ``put`` only appends to a list (no thread wake-up per run: at thousands of runs a second the
    GIL hand-offs would cost more than the writes); the thread takes what has gathered every
    ``interval`` seconds, serialises it and commits it in one transaction.
    """

    def __init__(self, path: Path, job_id: str, *, interval: float = 0.2) -> None:
        self._path, self._job_id, self._interval = path, job_id, interval
        self._pending: list[tuple[int, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"permutate-store-{job_id}", daemon=True)
        self._thread.start()

    def put(self, index: int, result: dict[str, Any]) -> None:
        with self._lock:
            self._pending.append((index, result))

    def _loop(self) -> None:
        conn = _connect(self._path)
        try:
            while True:
                closing = self._closing.wait(self._interval)
                with self._lock:
                    batch, self._pending = self._pending, []
                if batch:
                    rows = [(self._job_id, i, json.dumps(r, ensure_ascii=False, default=str)) for i, r in batch]
                    with conn:
                        conn.executemany("INSERT OR REPLACE INTO runs (job_id, idx, result) VALUES (?, ?, ?)", rows)
                if closing:
                    return
        finally:
            conn.close()

    def close(self) -> None:
        self._closing.set()
        self._thread.join()


class JobStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or permutate_home() / "jobs.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = _connect(self.path)
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._conn.execute(sql, params)

    def create_job(self, kind: str, name: str, request: dict[str, Any], planned_runs: int) -> str:
        job_id = uuid.uuid4().hex[:12]
        now = utc_now()
        self._execute(
            "INSERT INTO jobs (id, kind, name, request, status, planned_runs, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, 'PENDING', ?, ?, ?)",
            (job_id, kind, name, json.dumps(request, ensure_ascii=False), planned_runs, now, now),
        )
        return job_id

    def start(self, job_id: str) -> None:
        now = utc_now()
        self._execute(
            "UPDATE jobs SET status='RUNNING', attempts=attempts+1, started_at=?, ended_at=NULL, updated_at=?, "
            "error_code=NULL, error_message=NULL WHERE id=?", (now, now, job_id))

    def finish(self, job_id: str, status: str, data: dict[str, Any] | None = None, *,
               error_code: str | None = None, error_message: str | None = None) -> None:
        assert status in STATUSES, status
        now = utc_now()
        self._execute(
            "UPDATE jobs SET status=?, ended_at=?, updated_at=?, error_code=?, error_message=?, data=? WHERE id=?",
            (status, now, now, error_code, error_message, json.dumps(data, default=str) if data is not None else None, job_id),
        )

    def run_writer(self, job_id: str) -> RunWriter:
        return RunWriter(self.path, job_id)

    def job(self, job_id: str) -> dict[str, Any]:
        cursor = self._execute("SELECT * FROM jobs WHERE id=?", (job_id,))
        row = cursor.fetchone()
        if row is None:
            raise UnknownJobError(f"no job {job_id!r} in {self.path}; `permutate jobs` lists the jobs")
        job = dict(zip([c[0] for c in cursor.description], row))
        job["request"] = json.loads(job["request"])
        job["data"] = json.loads(job["data"]) if job["data"] else None
        job["finished_runs"] = self._execute("SELECT COUNT(*) FROM runs WHERE job_id=?", (job_id,)).fetchone()[0]
        return job

    def runs(self, job_id: str) -> dict[int, dict[str, Any]]:
        rows = self._execute("SELECT idx, result FROM runs WHERE job_id=? ORDER BY idx", (job_id,)).fetchall()
        return {idx: json.loads(result) for idx, result in rows}

    def jobs(self, kind: str | None = None) -> list[dict[str, Any]]:
        sql = ("SELECT j.id, j.kind, j.name, j.status, j.attempts, j.planned_runs, "
               "(SELECT COUNT(*) FROM runs r WHERE r.job_id = j.id) AS finished_runs, "
               "j.created_at, j.started_at, j.ended_at, j.error_code, j.error_message FROM jobs j")
        params: tuple[Any, ...] = ()
        if kind:
            sql += " WHERE j.kind=?"
            params = (kind,)
        cursor = self._execute(sql + " ORDER BY j.created_at", params)
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def close(self) -> None:
        self._conn.close()
