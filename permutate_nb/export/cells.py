"""Cell values every export writes the same way, and the CSV writer (row by row, any number of rows).

Prompts and model answers are untrusted: a cell whose text starts with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return is written as text, never as a formula, so a spreadsheet
cannot execute it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["FORMULA_START", "safe_cell", "csv_text", "write_csv"]

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A value fit for a spreadsheet cell: containers as JSON, formula-looking text quoted for CSV."""
    if isinstance(value, (dict, list, tuple)):
        value = json.dumps(value, ensure_ascii=False)
    return value


def csv_text(value: Any) -> Any:
    """A CSV cell: text that would start a formula gets a leading quote; containers become JSON."""
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_START) else value
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False)  # starts with { or [: never a formula
    return value


def write_csv(path: str | Path, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """``rows`` under a header of ``columns``, written as they come."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([csv_text(str(name)) for name in columns])  # headers are untrusted too (a batch CSV's)
        writer.writerows([csv_text(value) for value in row] for row in rows)
    return path
