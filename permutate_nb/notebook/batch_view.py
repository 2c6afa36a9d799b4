"""The rich view of a BatchResult: its DataFrame's own table, then the rows that errored first, each
opening on its transcript (prompt as sent, reply or error, tokens, cost, time)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .html_parts import STYLE
from .run_list import Run, failures_html, runs_html, view_id
from .transcript import batch_row_html

if TYPE_CHECKING:
    from ..core.jobs.batch_result import BatchResult

__all__ = ["render_batch_html", "batch_runs"]

#: Rows listed in a notebook's view; the report lists every one.
MAX_VIEW_ROWS = 1000
HEADERS = ("row", "model", "prompt", "verdict", "reason")


def batch_runs(result: BatchResult) -> tuple[list[Run], list[tuple[str, list[int]]]]:
    """The rows as runs (a completed row passed, any other errored: a batch has no verdict), and the groups
    of errored rows by status (failed, timeout)."""
    records = result.to_pandas().to_dict("records")
    groups: dict[str, list[int]] = {}

    def run(index: int, record: dict[str, Any]) -> Run:
        status = str(record.get("status") or "")
        outcome = "passed" if status == "completed" else "errored"
        reason = "" if outcome == "passed" else f"errored: {status or 'no status'}"
        if reason:
            groups.setdefault(reason, []).append(index)
        prompt = str(record.get("prompt") or "")
        return Run(outcome, (reason,) if reason else (),
                   (str(record.get("row")), str(record.get("model")), prompt[:80], outcome, reason),
                   lambda: batch_row_html(record))

    runs = [run(i, r) for i, r in enumerate(records)]
    return runs, sorted(groups.items(), key=lambda item: -len(item[1]))


def render_batch_html(result: BatchResult, max_rows: int | None = MAX_VIEW_ROWS) -> str:
    """The view: errored rows first, the DataFrame, then the rows (up to ``max_rows``; None: all, as the report)."""
    runs, groups = batch_runs(result)
    vid = view_id("batch", result.job_id, len(runs), max_rows)
    return "".join([STYLE, failures_html(runs, HEADERS, groups), result.to_pandas()._repr_html_(),
                    runs_html(vid, runs, HEADERS, title="Rows", max_rows=max_rows,
                              more_note="result.write('report.html') lists every row")])
