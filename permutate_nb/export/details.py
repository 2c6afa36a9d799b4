"""A permutate result's detail rows to files, streamed: memory stays flat however many runs a job has.

A stored result's rows come from the job store (``core.stored_rows``) a chunk at a time:
CSV and JSON Lines are written row by row (JSON Lines copies each stored row's JSON as it
is), JSON streams its ``details`` array inside the start-job shape, and Parquet (pyarrow,
``pip install "permutate-nb[parquet]"``) is filled from one SQL query, a batch of rows per
row group, without a Python object per row. XLSX (write-only, in ``export``) refuses a job
with more rows than a sheet holds, before writing anything.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.jobs.permutate_result import RunDetail
from ..core.store.stored_rows import StoredRows
from ..errors import ConfigurationError
from .cells import write_csv

if TYPE_CHECKING:
    from ..core.jobs.permutate_result import JobResult

__all__ = ["DETAIL_FIELDS", "XLSX_MAX_ROWS", "detail_dicts", "check_xlsx_rows", "to_csv", "to_jsonl", "to_json",
           "to_parquet", "pyarrow_modules", "require_pyarrow"]

DETAIL_FIELDS = tuple(RunDetail.__dataclass_fields__)
#: Rows an XLSX sheet holds, its header included (Excel's limit).
XLSX_MAX_ROWS = 1_048_576
_JSON_FIELDS = frozenset(("plugin_parameters_mapped", "intermediate_steps", "parameter_mismatches", "calls_made",
                          "calls_expected", "call_pairings", "transcript", "turns", "end_state"))
_PARQUET_BATCH = 4_000  # rows per block and row group: about 4 MB of JSON in memory at a time


def detail_dicts(result: JobResult) -> Iterator[dict[str, Any]]:
    """The detail rows as dicts, in unit order; a stored result's straight from the store."""
    if isinstance(result.details, StoredRows):
        return result.details.dicts()
    return (row.to_dict() for row in result.details)


def check_xlsx_rows(path: str | Path, rows: int) -> None:
    """Refuse, in one line, a table with more rows than an XLSX sheet holds."""
    if rows + 1 > XLSX_MAX_ROWS:
        raise ConfigurationError(
            f"{path}: {rows:,} rows do not fit an XLSX sheet (at most {XLSX_MAX_ROWS - 1:,} below the header); "
            "write .csv or .parquet instead")


def to_csv(result: JobResult, path: str | Path) -> Path:
    """The detail rows, one per run, written as they are read."""
    columns = list(DETAIL_FIELDS) if len(result.details) else []
    return write_csv(path, columns, ([row.get(c) for c in columns] for row in detail_dicts(result)))


def to_jsonl(result: JobResult, path: str | Path) -> Path:
    """JSON Lines: one detail row per line."""
    path = Path(path)
    with path.open("w", encoding="utf-8") as handle:
        if isinstance(result.details, StoredRows):
            for text in result.details.texts():  # the stored JSON is the row's to_dict()
                handle.write(text)
                handle.write("\n")
        else:
            for row in result.details:
                handle.write(json.dumps(row.to_dict(), ensure_ascii=False, default=str))
                handle.write("\n")
    return path


def to_json(result: JobResult, path: str | Path) -> Path:
    """``result.to_dict()`` as indented JSON, its ``details`` array written row by row."""
    path = Path(path)
    head = result.to_dict(details=False)
    last = len(head) - 1
    with path.open("w", encoding="utf-8") as handle:
        handle.write("{")
        for i, (key, value) in enumerate(head.items()):
            handle.write(f"\n  {json.dumps(key, ensure_ascii=False)}: ")
            if key == "details":
                _write_rows(handle, detail_dicts(result))
            else:
                handle.write(json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n  "))
            handle.write("," if i < last else "\n")
        handle.write("}")
    return path


def _write_rows(handle: Any, rows: Iterator[dict[str, Any]]) -> None:
    """A JSON array of ``rows`` at the second level of indentation, as ``json.dumps(indent=2)`` writes it."""
    first = True
    for row in rows:
        handle.write("[\n    " if first else ",\n    ")
        handle.write(json.dumps(row, indent=2, ensure_ascii=False).replace("\n", "\n    "))
        first = False
    handle.write("[]" if first else "\n  ]")


def _arrow_type(pa: Any, annotation: str) -> Any:
    if annotation.startswith("bool"):
        return pa.bool_()
    if annotation.startswith("int"):
        return pa.int64()
    if annotation.startswith("float"):
        return pa.float64()
    return pa.string()  # text, and objects or lists as JSON text


_NO_PYARROW = 'writing .parquet needs pyarrow: pip install "permutate-nb[parquet]"'


def require_pyarrow() -> None:
    """Refuse .parquet without pyarrow installed, without importing it (a job checks before it runs)."""
    if importlib.util.find_spec("pyarrow") is None:
        raise ConfigurationError(_NO_PYARROW)


def pyarrow_modules() -> tuple[Any, Any]:
    """``pyarrow`` and ``pyarrow.parquet``, imported only to write Parquet; missing, a one-line error."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigurationError(_NO_PYARROW) from None
    return pa, pq


def to_parquet(result: JobResult, path: str | Path) -> Path:
    """The detail rows as a Parquet file; objects and lists (parameters, steps, mismatches) as JSON text.

    The rows go to pyarrow as JSON Lines blocks, parsed in C++ against a fixed schema, one row
    group per block; for a stored result SQLite writes those lines (the objects turned into
    JSON strings by ``json_set``), so no row becomes a Python object.
    """
    pa, pq = pyarrow_modules()
    import pyarrow.json as pj

    fields = RunDetail.__dataclass_fields__
    schema = pa.schema([(name, _arrow_type(pa, str(fields[name].type))) for name in DETAIL_FIELDS])
    options = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    path = Path(path)
    with pq.ParquetWriter(path, schema) as writer:
        for block in _json_blocks(result):
            writer.write_table(pj.read_json(pa.BufferReader(block), parse_options=options).select(DETAIL_FIELDS))
    return path


def _json_blocks(result: JobResult) -> Iterator[bytes]:
    """The detail rows as JSON Lines, ``_PARQUET_BATCH`` rows a block, objects and lists as JSON strings."""
    details = result.details
    if isinstance(details, StoredRows):
        # '' || drops json_extract's JSON subtype, so json_set stores the object's text as a string
        setters = ", ".join(f"'$.{name}', '' || json_extract(result, '$.{name}')" for name in sorted(_JSON_FIELDS))
        conn = details.connect(check_same_thread=False)
        try:
            cursor = conn.execute(f"SELECT json_set(result, {setters}) FROM runs WHERE job_id=? ORDER BY idx",
                                  (details.job_id,))
            with ThreadPoolExecutor(1) as pool:  # SQLite reads the next block while pyarrow parses this one
                ahead = pool.submit(cursor.fetchmany, _PARQUET_BATCH)
                while batch := ahead.result():
                    ahead = pool.submit(cursor.fetchmany, _PARQUET_BATCH)
                    yield "\n".join(text for (text,) in batch).encode()
        finally:
            conn.close()
        return
    lines: list[str] = []
    for row in details:
        values = row.to_dict()
        for name in _JSON_FIELDS:
            if values[name] is not None:
                values[name] = json.dumps(values[name], ensure_ascii=False, separators=(",", ":"))
        lines.append(json.dumps(values, ensure_ascii=False, default=str))
        if len(lines) == _PARQUET_BATCH:
            yield "\n".join(lines).encode()
            lines = []
    if lines:
        yield "\n".join(lines).encode()
