"""A stored job's rows, read from the job store as they are used: the store is the source of truth.

``StoredRows`` is a read-only sequence over one job's ``runs`` in unit order: ``len`` is one
COUNT, iteration reads ``CHUNK`` rows per query (memory stays flat however many rows there
are), an index or a slice reads just those rows, and ``select`` hands a SQL query of
``json_extract`` columns to a caller (a DataFrame, a Parquet file) without building a Python
object per row. Each use opens its own short-lived connection, so a result can be read from
any thread, also while its job still runs (WAL mode).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

__all__ = ["StoredRows", "CHUNK"]

T = TypeVar("T")
U = TypeVar("U")
CHUNK = 2000  # rows per query while iterating


def _as_is(data: dict[str, Any]) -> Any:
    return data


class StoredRows(Sequence[T], Generic[T]):
    """The rows of job ``job_id`` in the store at ``path``, each made by ``make`` from its stored dict
    (None: the dict itself)."""

    def __init__(self, path: Path, job_id: str, make: Callable[[dict[str, Any]], T] | None = None) -> None:
        self.path, self.job_id = Path(path), job_id
        self._make: Callable[[dict[str, Any]], Any] = make or _as_is

    def connect(self, check_same_thread: bool = True) -> sqlite3.Connection:
        """A new connection to the store (a caller on another thread passes ``check_same_thread=False``)."""
        return sqlite3.connect(self.path, timeout=30, check_same_thread=check_same_thread)

    def __len__(self) -> int:
        with self.connect() as conn:
            return conn.execute("SELECT COUNT(*) FROM runs WHERE job_id=?", (self.job_id,)).fetchone()[0]

    def indexed_texts(self) -> Iterator[tuple[int, str]]:
        """(unit index, stored JSON) of each row, in unit order, ``CHUNK`` rows per query."""
        conn = self.connect()
        try:
            last = -1
            while True:
                chunk = conn.execute("SELECT idx, result FROM runs WHERE job_id=? AND idx>? ORDER BY idx LIMIT ?",
                                     (self.job_id, last, CHUNK)).fetchall()
                yield from chunk
                if len(chunk) < CHUNK:
                    return
                last = chunk[-1][0]
        finally:
            conn.close()

    def texts(self) -> Iterator[str]:
        """Each row's stored JSON, in unit order."""
        return (text for _, text in self.indexed_texts())

    def items(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """(unit index, stored dict) of each row: what a resume passes to ``execute`` as ``done``."""
        return ((index, json.loads(text)) for index, text in self.indexed_texts())

    def dicts(self) -> Iterator[dict[str, Any]]:
        """Each row's stored dict, in unit order, read in chunks."""
        return map(json.loads, self.texts())

    def __iter__(self) -> Iterator[T]:
        return self.dicts() if self._make is _as_is else map(self._make, self.dicts())  # type: ignore[return-value]

    def rows_as(self, make: Callable[[dict[str, Any]], U]) -> StoredRows[U]:
        """The same rows, each made by ``make``."""
        return StoredRows(self.path, self.job_id, make)

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                return [self[i] for i in range(start, stop, step)]
            return self.head(max(stop - start, 0), start)
        position = index + len(self) if index < 0 else index
        rows = self.head(1, position) if position >= 0 else []
        if not rows:
            raise IndexError(f"row {index} out of range")
        return rows[0]

    def head(self, count: int, offset: int = 0) -> list[T]:
        """``count`` rows from position ``offset`` (one query)."""
        with self.connect() as conn:
            texts = conn.execute("SELECT result FROM runs WHERE job_id=? ORDER BY idx LIMIT ? OFFSET ?",
                                 (self.job_id, count, offset)).fetchall()
        return [self._make(json.loads(text)) for (text,) in texts]

    def select(self, columns: Sequence[str]) -> tuple[str, tuple[Any, ...]]:
        """A query of one SQL column per field (``json_extract``; objects and lists as JSON text), in unit order."""
        fields = ", ".join(f"json_extract(result, '$.{name}') AS \"{name}\"" for name in columns)
        return f"SELECT {fields} FROM runs WHERE job_id=? ORDER BY idx", (self.job_id,)

    def __repr__(self) -> str:
        return f"StoredRows({str(self.path)!r}, {self.job_id!r})"
