"""The response cache: SQLite on disk, keyed by everything that changes a model's answer.

Reads are point look-ups on the event loop (tens of microseconds). Each answer is written
as soon as it arrives, by a writer thread that commits whatever has gathered (group
commit), so a job killed with ``kill -9`` and resumed asks again only for the calls that
were in flight, and the loop never waits on a disk write.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import orjson

from .group_writer import GroupWriter
from .paths import permutate_home

__all__ = ["ResponseCache", "cache_key"]

_SCHEMA = "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL DEFAULT (julianday('now')))"


def cache_key(identity: str, payload: str, repeat: int) -> str:
    """Provider identity (kind, base URL, model), request payload and repeat index, hashed."""
    return hashlib.sha256(f"{identity}\n{repeat}\n{payload}".encode()).hexdigest()


def _encode(key: str, value: dict[str, Any]) -> tuple[str, str]:
    return key, json.dumps(value, separators=(",", ":"))


class ResponseCache:
    """Model answers by call key in SQLite, so a repeated call (same model, payload, repeat) costs nothing."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or permutate_home() / "cache" / "responses.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._read = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._read.execute("PRAGMA journal_mode=WAL")
        self._read.execute(_SCHEMA)
        self._writer = GroupWriter(self.path, "INSERT OR REPLACE INTO responses (key, value) VALUES (?, ?)", _encode,
                                   name="permutate-cache")
        self._reading = False  # a read transaction is open until the event loop's turn ends
        self._closed = False

    def _begin_read(self) -> None:
        """On an event loop, the look-ups of one loop turn (a pool's workers answered from the cache
        one after another) share one read transaction, ended by the loop's next callback: SQLite then
        takes and drops its WAL read lock once a turn instead of once a look-up (measured: about a
        third of a cached look-up's cost). Outside a loop each look-up is its own transaction."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._read.execute("BEGIN")
        self._reading = True
        loop.call_soon(self._end_read)

    def _end_read(self) -> None:
        self._reading = False
        if not self._closed and self._read.in_transaction:
            self._read.execute("COMMIT")  # a read: nothing to write, the snapshot is let go

    def get(self, key: str) -> dict[str, Any] | None:
        """The cached answer for ``key``, or None."""
        if not self._reading:
            self._begin_read()
        row = self._read.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            return orjson.loads(row[0])  # about twice the standard decoder's speed on a cached answer
        except orjson.JSONDecodeError:  # NaN and the like, which only the standard decoder takes
            return json.loads(row[0])

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Queue the answer; the writer thread commits it within milliseconds."""
        self._writer.put(key, value)

    def close(self) -> None:
        """Commit what is queued and close."""
        self._writer.close()
        self._closed = True
        self._read.close()

    async def aclose(self) -> None:
        """``close`` from an event loop: the read transaction ends on the loop, the closing in a thread."""
        if self._reading:
            self._end_read()  # on the loop, before the connection closes in another thread
        await asyncio.to_thread(self.close)
