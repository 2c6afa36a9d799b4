"""Group commit to SQLite from one writer thread, for the job store and the response cache.

Why a thread and groups: the event loop must never wait on a disk write, yet a row (a run's
result, a provider's answer) must be on disk promptly, so that ``kill -9`` loses nothing
that finished. ``put`` appends to a list and wakes the writer only when the list was empty;
the writer (after an optional ``linger``, so rows arriving together share one wake-up)
commits whatever has gathered in one transaction, then resolves the futures of the rows
it committed on their event loop (``call_soon_threadsafe``), so a coroutine can ``await``
its row being on disk. A commit in WAL mode with ``synchronous=NORMAL`` reaches the
operating system before it is reported: a killed process loses none of it (a power cut
may lose the last commits; SQLite stays consistent).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence

__all__ = ["GroupWriter", "connect"]


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode, WAL journal, usable from the thread that holds it."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class GroupWriter:
    """Runs ``sql`` with the rows ``encode`` makes of each put item, in one transaction per group.

    ``idle(conn)`` runs every ``idle_every`` seconds (a lease's heartbeat).
    """

    def __init__(
        self,
        path: Path,
        sql: str,
        encode: Callable[[Any, Any], Sequence[Any]],
        *,
        name: str,
        linger: float = 0.002,
        idle: Callable[[sqlite3.Connection], None] | None = None,
        idle_every: float = 5.0,
    ) -> None:
        self._path, self._sql, self._encode = path, sql, encode
        self._linger = linger
        self._idle, self._idle_every = idle, idle_every
        self._items: list[tuple[Any, Any, Any]] = []
        self._wake = threading.Condition()
        self._closing = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, key: Any, value: Any, done: asyncio.Future[None] | None = None) -> None:
        """Queue one row; ``done`` (a future of a running loop) is resolved once the row is committed."""
        with self._wake:
            self._items.append((key, value, done))
            if len(self._items) == 1:
                self._wake.notify()

    async def put_committed(self, key: Any, value: Any) -> None:
        """Queue one row and return once it is committed."""
        done = asyncio.get_running_loop().create_future()
        self.put(key, value, done)
        await done

    def _run(self) -> None:
        conn = connect(self._path)
        try:
            next_idle = time.monotonic() + self._idle_every
            while True:
                with self._wake:
                    if not self._items and not self._closing:
                        self._wake.wait(max(next_idle - time.monotonic(), 0.0) if self._idle else None)
                    closing = self._closing
                if self._items and not closing and self._linger:
                    time.sleep(self._linger)  # let the rows that finish together share this commit
                with self._wake:
                    batch, self._items = self._items, []
                if batch:
                    self._commit(conn, batch)
                if self._idle is not None and time.monotonic() >= next_idle:
                    self._idle(conn)
                    next_idle = time.monotonic() + self._idle_every
                if closing and not self._items:
                    return
        except BaseException as exc:  # noqa: BLE001 - raised again by close() in the owner's thread
            self._error = exc
        finally:
            conn.close()

    def _commit(self, conn: sqlite3.Connection, batch: list[tuple[Any, Any, Any]]) -> None:
        rows = [self._encode(key, value) for key, value, _ in batch]
        with conn:
            conn.executemany(self._sql, rows)
        waiting = [done for _, _, done in batch if done is not None]
        if waiting:
            loop = waiting[0].get_loop()
            if not loop.is_closed():
                loop.call_soon_threadsafe(_resolve, waiting)

    def close(self) -> None:
        """Commit what is queued and stop the thread; idempotent. Raises what the writer hit."""
        with self._wake:
            self._closing = True
            self._wake.notify()
        self._thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error


def _resolve(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():
            future.set_result(None)
