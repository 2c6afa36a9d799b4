"""What only a server remembers, beside the job store: which jobs it started, eval datasets and executions.

The jobs themselves (status, rows, results) live in the job store like every other job, so
``permutate jobs`` and ``pn.jobs()`` list them; this file adds whether a server owns a job
(and so resumes it after a restart), the datasets uploaded under a pipeline id, and the
eval executions' own fields (pipeline, dataset, parameters, session and correlation ids).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Any

from ..core.store.job_store import utc_now

__all__ = ["Registry", "ACTIVE", "DONE", "CANCELLED"]

ACTIVE, DONE, CANCELLED = "active", "done", "cancelled"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS server_jobs (
    job_id TEXT PRIMARY KEY, kind TEXT NOT NULL, state TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS eval_datasets (
    id TEXT PRIMARY KEY, pipeline_id TEXT NOT NULL, name TEXT NOT NULL, data TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS eval_executions (
    job_id TEXT PRIMARY KEY, pipeline_id TEXT NOT NULL, dataset_id TEXT NOT NULL, parameters TEXT NOT NULL,
    session_id TEXT, correlation_id TEXT, user_id TEXT, created_at TEXT NOT NULL
);
"""


class Registry:
    """The server's own SQLite file (``server.sqlite`` in the permutate home), safe to share between threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self._lock:
            cursor = self._conn.execute(sql, params)
            names = [c[0] for c in cursor.description] if cursor.description else []
            return [dict(zip(names, row)) for row in cursor.fetchall()]

    # -- jobs a server started ------------------------------------------------------------
    def add_job(self, job_id: str, kind: str) -> None:
        """Record a job as this server's, active: a restart resumes it until it is marked done or cancelled."""
        self._rows("INSERT OR REPLACE INTO server_jobs VALUES (?, ?, ?, ?)", (job_id, kind, ACTIVE, utc_now()))

    def set_state(self, job_id: str, state: str) -> None:
        """Mark a server's job ``done`` or ``cancelled`` (a restart then leaves it alone)."""
        self._rows("UPDATE server_jobs SET state=? WHERE job_id=?", (state, job_id))

    def active_jobs(self) -> list[dict[str, Any]]:
        """The server's jobs still active, oldest first: those a restart resumes."""
        return self._rows("SELECT job_id, kind FROM server_jobs WHERE state=? ORDER BY created_at", (ACTIVE,))

    # -- eval datasets and executions -------------------------------------------------------
    def add_dataset(self, pipeline_id: str, name: str, data: dict[str, Any]) -> dict[str, Any]:
        """Store an uploaded eval dataset under its pipeline; its record (a new id) without the data."""
        record = {"id": uuid.uuid4().hex, "pipeline_id": pipeline_id, "name": name, "created_at": utc_now()}
        self._rows("INSERT INTO eval_datasets VALUES (?, ?, ?, ?, ?)",
                   (record["id"], pipeline_id, name, json.dumps(data, ensure_ascii=False), record["created_at"]))
        return record

    def dataset(self, pipeline_id: str, dataset_id: str) -> dict[str, Any] | None:
        """An uploaded dataset with its data, or None when the pipeline has no dataset of that id."""
        rows = self._rows("SELECT * FROM eval_datasets WHERE id=? AND pipeline_id=?", (dataset_id, pipeline_id))
        if not rows:
            return None
        return {**rows[0], "data": json.loads(rows[0]["data"])}

    def add_execution(self, job_id: str, pipeline_id: str, dataset_id: str, parameters: dict[str, Any],
                      session_id: str | None, correlation_id: str | None, user_id: str | None) -> None:
        """Record an eval execution's own fields (pipeline, dataset, parameters, the caller's ids) beside its job."""
        self._rows("INSERT INTO eval_executions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (job_id, pipeline_id, dataset_id, json.dumps(parameters), session_id, correlation_id, user_id,
                    utc_now()))

    def executions(self, pipeline_id: str, dataset_id: str) -> list[dict[str, Any]]:
        """A dataset's eval executions, oldest first, with their parameters."""
        rows = self._rows("SELECT * FROM eval_executions WHERE pipeline_id=? AND dataset_id=? ORDER BY created_at",
                          (pipeline_id, dataset_id))
        return [{**r, "parameters": json.loads(r["parameters"])} for r in rows]

    def close(self) -> None:
        """Close the database (the server is shutting down)."""
        self._conn.close()
