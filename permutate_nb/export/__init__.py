"""CSV, JSON, XLSX and HTML exports shared by the API, the CLI (``--output``) and the notebook
(HTML: the report, ``export.report``).

``write_any`` writes any job's result by extension and is what ``result.write(path)`` calls
(registered in ``core.hooks`` when this module is imported, which ``import permutate_nb`` does).

Prompts and model answers are untrusted: a cell whose text starts with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return is written as text, never as a formula, so a
spreadsheet cannot execute it. Percentages go into XLSX as numbers with a % format.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import hooks
from ..core.frames import is_nan
from ..core.jobs.batch_result import BatchResult, batch_frame
from ..core.jobs.permutate_result import JobResult
from ..core.scoring.matching import describe_mismatches
from ..core.status import RunOutcome
from ..errors import ConfigurationError
from .cells import FORMULA_START, csv_text, safe_cell, write_csv
from .details import (
    DETAIL_FIELDS,
    check_xlsx_rows,
    detail_dicts,
    pyarrow_modules,
    require_pyarrow,
    to_csv,
    to_json,
    to_jsonl,
    to_parquet,
)
from .report import write_report

if TYPE_CHECKING:
    from ..core.jobs.evals.results import EvalResult

__all__ = ["write_any", "write_frame", "write_frames", "to_csv", "to_json", "to_jsonl", "to_parquet", "to_excel",
           "safe_cell", "csv_text", "process_csv", "check_output", "RESULT_TYPES"]

#: What ``write_any`` writes, for every kind of result.
RESULT_TYPES = (".json", ".jsonl", ".csv", ".xlsx", ".parquet", ".html")

_ACCURACIES = ("overall_accuracy", "accuracy_step_a", "accuracy_step_b", "accuracy_step_c")
#: Columns holding percentages (0-100, or points for a difference): stored as fractions with a % format,
#: so every sheet shows one unit. ``pass@k`` / ``pass^k`` columns too (``_is_percent``).
_PERCENT_COLUMNS = {
    *_ACCURACIES, "parameter_mapped_percentage", "pass_rate", "accuracy_a", "accuracy_b", "difference",
    *(f"{name}_ci_{end}" for name in (*_ACCURACIES, "pass_rate", "accuracy_a", "accuracy_b", "difference")
      for end in ("low", "high")),
}


def _is_percent(column: str) -> bool:
    return column in _PERCENT_COLUMNS or column.startswith(("pass@", "pass^"))


def _table(frame: Any) -> tuple[list[str], list[list[Any]]]:
    columns = [str(c) for c in frame.columns]
    rows = [[None if is_nan(v) else v for v in row] for row in frame.itertuples(index=False)]
    return columns, rows


def write_frames(frames: dict[str, Any], path: str | Path) -> Path:
    """Several tables as the sheets of one XLSX file, formula-safe."""
    from openpyxl import Workbook

    for frame in frames.values():
        check_xlsx_rows(path, len(frame))
    wb = Workbook(write_only=True)
    for sheet, frame in frames.items():
        _write_sheet(wb.create_sheet(sheet), *_table(frame))
    wb.save(path)
    return Path(path)


def write_frame(frame: Any, path: str | Path, *, sheet: str = "Results") -> Path:
    """Any table (a batch's results, an eval's scores) to .xlsx or .csv, formula-safe."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return write_csv(path, *_table(frame))
    if suffix != ".xlsx":
        raise ConfigurationError(f"{path}: unknown output type {suffix or '(none)'}; use .xlsx or .csv")
    return write_frames({sheet: frame}, path)


#: Excel's limit on one cell's text.
XLSX_CELL_LIMIT = 32_767


def _xlsx_text(value: str) -> tuple[str, str | None]:
    """Text openpyxl can store and Excel can open, and a note saying what was changed (or None).

    Model answers may hold control characters (openpyxl refuses \\x00-\\x1f but tab, newline
    and carriage return) or be longer than a cell takes; the export must not fail on them.
    """
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    notes = []
    cleaned, removed = ILLEGAL_CHARACTERS_RE.subn("", value)
    if removed:
        notes.append(f"{removed} control character(s) removed")
    if len(cleaned) > XLSX_CELL_LIMIT:
        notes.append(f"cut to {XLSX_CELL_LIMIT:,} of {len(cleaned):,} characters; the JSON export has it all")
        cleaned = cleaned[:XLSX_CELL_LIMIT]
    return cleaned, "; ".join(notes) or None


#: Rows whose text sets the column widths (a write-only sheet takes its widths before its rows).
_WIDTH_ROWS = 1000


def _write_sheet(ws: Any, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A styled table on a write-only sheet, row by row: header, pass/fail fills, percentages, notes."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import TYPE_STRING
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    header_fill = PatternFill("solid", fgColor="1F3864")
    pass_fill, fail_fill = PatternFill("solid", fgColor="C6EFCE"), PatternFill("solid", fgColor="FFC7CE")
    outcome_fills = {RunOutcome.PASSED: pass_fill, RunOutcome.WRONG: fail_fill,
                     RunOutcome.ERRORED: PatternFill("solid", fgColor="FFEB9C")}
    header_font, header_alignment = Font(bold=True, color="FFFFFF"), Alignment(vertical="top", wrap_text=True)
    widths = [len(c) for c in columns]
    percent = [_is_percent(c) for c in columns]

    def cells(values: Sequence[Any]) -> list[Any]:
        out = []
        for c, raw in enumerate(values):
            name = columns[c]
            value = safe_cell(raw)
            note = None
            if isinstance(value, str):
                value, note = _xlsx_text(value)
            if percent[c] and isinstance(value, (int, float)) and not isinstance(value, bool):
                cell = WriteOnlyCell(ws, value=value / 100.0)
                cell.number_format = "0.00%"
            else:
                cell = WriteOnlyCell(ws, value=value)
                if isinstance(value, str) and value.startswith(FORMULA_START):
                    cell.data_type = TYPE_STRING  # text, never a formula
                if note:
                    cell.comment = Comment(note, "permutate")
            if name in ("passed", "is_run_completed") and isinstance(value, bool):
                cell.fill = pass_fill if value else fail_fill
            elif name == "outcome" and value in outcome_fills:
                cell.fill = outcome_fills[value]
            if sizing:
                widths[c] = max(widths[c], min(len(str(value)) if value is not None else 0, 60))
            out.append(cell)
        return out

    rows = iter(rows)
    sizing = True
    first = [cells(values) for values in islice(rows, _WIDTH_ROWS)]
    sizing = False
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(8, width + 2)
    ws.freeze_panes = "A2"
    header = []
    for name in columns:
        text = _xlsx_text(str(name))[0]
        cell = WriteOnlyCell(ws, value=text)
        if text.startswith(FORMULA_START):
            cell.data_type = TYPE_STRING  # a column named "=HYPERLINK(...)" (a batch CSV's header) is text too
        cell.font, cell.fill, cell.alignment = header_font, header_fill, header_alignment
        header.append(cell)
    ws.append(header)
    count = 0
    for count, row in enumerate(first, start=1):  # noqa: B007 - count is the rows written, read after the loops
        ws.append(row)
    for count, values in enumerate(rows, start=count + 1):  # noqa: B007, B020
        ws.append(cells(values))
    if count and columns:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{count + 1}"


def _flat(summary: dict[str, Any]) -> dict[str, Any]:
    """A summary as spreadsheet cells: intervals as ``_ci_low``/``_ci_high``, ``pass@k`` columns, flaky count."""
    cells: dict[str, Any] = {}
    for key, value in summary.items():
        if key.endswith("_ci"):
            cells[f"{key}_low"], cells[f"{key}_high"] = value or (None, None)
        elif key in ("pass_at_k", "pass_hat_k"):
            cells.update({f"{'pass@' if key == 'pass_at_k' else 'pass^'}{k}": v for k, v in value.items()})
        elif key == "flaky_cases":
            cells[key] = len(value)
        else:
            cells[key] = value
    return cells


def _credit_pair(record: dict[str, Any], models: dict[str, str]) -> dict[str, Any]:
    """A comparison row with the model that answered each side beside its permutation (``a_model``, ``b_model``)."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        out[key] = value
        if key in ("a", "b"):
            out[f"{key}_model"] = models.get(value)
    return out


def _with_outcome(columns: list[str]) -> list[str]:
    """The detail columns with ``outcome`` (passed / wrong / errored, ``RunOutcome``) after ``passed``."""
    at = columns.index("passed") + 1 if "passed" in columns else 0
    return [*columns[:at], "outcome", *columns[at:]]


def to_excel(result: JobResult, path: str | Path) -> Path:
    """Sheets Summary, Permutations, Details, Request (the YAML); Flaky with repeats, Comparison with 2+ permutations.

    Written in openpyxl's write-only mode, the detail rows as they are read; a job with more
    rows than a sheet holds is refused before anything is written.
    """
    import yaml
    from openpyxl import Workbook

    from ..core.stats.compare import comparison_records
    from ..core.stats.repeats import flat_repeat_table, repeat_table

    path = Path(path)
    count = len(result.details)
    check_xlsx_rows(path, count)
    wb = Workbook(write_only=True)
    summary = _flat(result.summary)
    _write_sheet(wb.create_sheet("Summary"), ["job_name", "status", *summary],
                 [[result.job_name, result.status, *summary.values()]])
    perms = {name: _flat(s) for name, s in result.summary_by("permutation_name").items()}
    first = next(iter(perms.values()), summary)
    models = result.models()  # the model that answered: "gpt-4o-mini → local SmolLM2-135M-Instruct" with --provider
    _write_sheet(wb.create_sheet("Permutations"), ["permutation_name", "model", *first],
                 [[n, models.get(n), *s.values()] for n, s in perms.items()])
    columns = _with_outcome(list(DETAIL_FIELDS)) if count else ["permutation_name"]

    def details() -> Iterable[list[Any]]:
        for row in detail_dicts(result):
            row["parameter_mismatches"] = describe_mismatches(row.get("parameter_mismatches")) or None  # in words
            row["outcome"] = str(RunOutcome.of(bool(row.get("is_run_completed")), bool(row.get("passed"))))
            yield [row.get(c) for c in columns]

    _write_sheet(wb.create_sheet("Details"), columns, details())
    request_yaml = yaml.safe_dump(result.request, sort_keys=False, allow_unicode=True)
    _write_sheet(wb.create_sheet("Request"), ["request (YAML)"], [[line] for line in request_yaml.splitlines()])
    cells = repeat_table(result.cells())
    if any(cell["repeats"] > 1 for cell in cells):
        _write_sheet(wb.create_sheet("Flaky"), *flat_repeat_table([c for c in cells if c["flaky"]]))
    records = [_credit_pair(record, models) for record in comparison_records(result.pairwise())]
    if records:
        _write_sheet(wb.create_sheet("Comparison"), list(records[0]), [list(r.values()) for r in records])
    wb.save(path)
    return path


def check_output(path: str | Path, types: Sequence[str] = RESULT_TYPES) -> Path:
    """Refuse, before a job runs, an output it could not write: an unknown type or a missing folder."""
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if suffix not in types:
        raise ConfigurationError(f"--output {path}: unknown output type {suffix or '(none)'}; use {', '.join(types)}")
    if path.is_dir():
        raise ConfigurationError(f"--output {path}: is a folder; give a file name ending in {suffix}")
    folder = path.parent
    if not folder.is_dir():
        raise ConfigurationError(f"--output {path}: the folder {folder} does not exist; create it first")
    if suffix == ".parquet":
        require_pyarrow()
    return path


def _write_json(data: Any, path: Path) -> Path:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    return path


def _write_jsonl(rows: Iterable[Any], path: Path) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, default=str))
            handle.write("\n")
    return path


def _frame_parquet(frame: Any, path: Path) -> Path:
    pa, pq = pyarrow_modules()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    return path


def _batch_writers(result: BatchResult) -> dict[str, Callable[[Path], Path]]:
    frame = result.to_pandas()
    return {".json": lambda p: _write_json({"job_id": result.job_id, "status": result.status,
                                            "rows": frame.to_dict("records")}, p),
            ".jsonl": lambda p: _write_jsonl(frame.to_dict("records"), p),
            ".csv": lambda p: write_csv(p, *_table(frame)),
            ".xlsx": lambda p: write_frames({"Results": frame}, p),
            ".parquet": lambda p: _frame_parquet(frame, p), ".html": lambda p: write_report(result, p)}


def _eval_writers(result: EvalResult) -> dict[str, Callable[[Path], Path]]:
    return {".json": lambda p: _write_json(result.to_dict(), p),
            ".jsonl": lambda p: _write_jsonl(result.outputs, p),
            ".csv": lambda p: write_csv(p, *_table(result.scores_df)),
            ".xlsx": lambda p: write_frames({"Summary": result.summary_df, "Scores": result.scores_df,
                                             "Outputs": result.outputs_df}, p),
            ".parquet": lambda p: _frame_parquet(result.scores_df, p), ".html": lambda p: write_report(result, p)}


def _job_writers(result: JobResult) -> dict[str, Callable[[Path], Path]]:
    return {".json": lambda p: to_json(result, p), ".jsonl": lambda p: to_jsonl(result, p),
            ".csv": lambda p: to_csv(result, p), ".xlsx": lambda p: to_excel(result, p),
            ".parquet": lambda p: to_parquet(result, p), ".html": lambda p: write_report(result, p)}


#: By the result's class name: an eval's writers need no import of the eval machinery until one is written.
_WRITERS: dict[str, Callable[[Any], dict[str, Callable[[Path], Path]]]] = {
    "JobResult": _job_writers, "BatchResult": _batch_writers, "EvalResult": _eval_writers,
}


def write_any(result: Any, path: str | Path, fmt: str | None = None) -> Path:
    """Any job's result by ``fmt``, else the path's extension: one of ``RESULT_TYPES``."""
    path = Path(path)
    suffix = (fmt or path.suffix).lower()
    writers = _WRITERS[type(result).__name__](result)
    if suffix not in writers:
        raise ConfigurationError(f"{path}: unknown output type {suffix or '(none)'}; use {', '.join(RESULT_TYPES)}")
    return writers[suffix](path)


def process_csv(source: Any, output: Any, *, models: Any = None) -> Path:
    """Check a batch and write it as XLSX/CSV with empty result columns; runs nothing."""
    from ..core.jobs.batch import empty_rows, plan_batch

    return write_frame(batch_frame(empty_rows(plan_batch(source, models=models))), output)


hooks.register_writer(write_any)
