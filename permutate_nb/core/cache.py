"""The response cache: SQLite on disk, keyed by everything that changes a model's answer.

Reads are point look-ups on the event loop (tens of microseconds); writes are buffered
and committed in a worker thread, in batches, so the loop never waits on a disk sync.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from .paths import permutate_home

__all__ = ["ResponseCache", "cache_key"]

_SCHEMA = "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL DEFAULT (julianday('now')))"


def cache_key(identity: str, payload: str, repeat: int) -> str:
    """Provider identity (kind, base URL, model), request payload and repeat index, hashed."""
    return hashlib.sha256(f"{identity}\n{repeat}\n{payload}".encode()).hexdigest()


class ResponseCache:
    def __init__(self, path: Path | None = None, *, flush_every: int = 256) -> None:
        self.path = path or permutate_home() / "cache" / "responses.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._read = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._read.execute("PRAGMA journal_mode=WAL")
        self._read.execute(_SCHEMA)
        self._pending: list[tuple[str, str]] = []
        self._flush_every = flush_every
        self._lock = threading.Lock()
        self._flushes: set[asyncio.Future[None]] = set()

    def get(self, key: str) -> dict[str, Any] | None:
        row = self._read.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        self._pending.append((key, json.dumps(value, separators=(",", ":"))))
        if len(self._pending) >= self._flush_every:
            self._schedule_flush()

    def _schedule_flush(self) -> None:
        batch, self._pending = self._pending, []
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._write(batch)
            return
        future = loop.run_in_executor(None, self._write, batch)
        self._flushes.add(future)
        future.add_done_callback(self._flushes.discard)

    def _write(self, batch: list[tuple[str, str]]) -> None:
        with self._lock:
            conn = sqlite3.connect(self.path, timeout=30)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.executemany("INSERT OR REPLACE INTO responses (key, value) VALUES (?, ?)", batch)
                conn.commit()
            finally:
                conn.close()

    async def aflush(self) -> None:
        """Write everything pending; call before the job returns."""
        if self._pending:
            self._schedule_flush()
        if self._flushes:
            await asyncio.gather(*list(self._flushes))

    def close(self) -> None:
        if self._pending:
            batch, self._pending = self._pending, []
            self._write(batch)
        self._read.close()
