"""The part of every view that opens on what needs attention: failures grouped by reason, then every run.

``failures_html`` lists the groups (largest first), each with its count and its runs' transcripts.
``runs_html`` lists the runs, wrong and errored first, under a filter (all / passed / wrong /
errored) and in pages; each run is one line of short columns that opens on its transcript. Both
work without JavaScript (radio buttons and CSS), in a notebook and in the report, whose script adds
only search. A notebook opened untrusted loses the style sheet and the radio buttons to
JupyterLab's sanitiser: every listed run then shows at once, and ``<details>`` still open.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .html_parts import esc

__all__ = ["Run", "PAGE_ROWS", "GROUP_SHOW", "view_id", "failures_html", "runs_html", "OUTCOMES"]

#: Runs per page of the list.
PAGE_ROWS = 50
#: Transcripts shown inside a failure group (the rest are in the list, under the filter).
GROUP_SHOW = 10
OUTCOMES = ("passed", "wrong", "errored")
_ORDER = {"wrong": 0, "errored": 1, "passed": 2}


def view_id(*key: object) -> str:
    """An id for one rendered view (its radio buttons and anchors), from what the view shows (the job,
    its runs): the same result renders the same HTML, different results do not share ids."""
    return "pn" + hashlib.sha1(repr(key).encode()).hexdigest()[:10]


@dataclass(frozen=True, slots=True)
class Run:
    """One run as a list shows it: its outcome, its reasons, its short columns, and its transcript (made on use)."""

    outcome: str
    reasons: tuple[str, ...]
    cells: tuple[str, ...]
    transcript: Callable[[], str]


def _line(run: Run, css: str = "pn-row") -> str:
    cells = "".join(f"<span>{esc(c)}</span>" for c in run.cells)
    return (f'<details class="{css} pn-{esc(run.outcome)}"><summary>{cells}</summary>{run.transcript()}</details>')


def _head(headers: Sequence[str]) -> str:
    return '<div class="pn-head">' + "".join(f"<span>{esc(h)}</span>" for h in headers) + "</div>"


def failures_html(runs: Sequence[Run], headers: Sequence[str], groups: Sequence[tuple[str, Sequence[int]]]) -> str:
    """The failure groups: reason and count, then up to ``GROUP_SHOW`` of its runs (each opens on its transcript)."""
    if not groups:
        return ('<div class="pn-v pn-failures"><b>Needs attention:</b> nothing: every run passed.</div>'
                if runs else "")
    parts = []
    for n, (reason, indices) in enumerate(groups):
        shown = "".join(_line(runs[i]) for i in indices[:GROUP_SHOW])
        more = (f"<div>{len(indices) - GROUP_SHOW:,} more: filter the runs below</div>"
                if len(indices) > GROUP_SHOW else "")
        parts.append(f'<details class="pn-group"{" open" if n == 0 else ""}><summary>{esc(reason)}: '
                     f'{len(indices):,} run{"s" if len(indices) != 1 else ""}</summary>{_head(headers)}{shown}{more}</details>')
    failed = len({i for _, indices in groups for i in indices})
    return (f'<div class="pn-v pn-failures"><b>Needs attention: {failed:,} of {len(runs):,} runs, by reason</b>'
            f'{"".join(parts)}</div>')


def _rules(vid: str, pages: int) -> str:
    rules = [f"#{vid}-f-{o}:checked~.pn-list .pn-row:not(.pn-{o}){{display:none}}" for o in OUTCOMES]
    if pages > 1:
        rules.append(f"#{vid} .pn-page{{display:none}}")
        rules += [f"#{vid}-p{p}:checked~.pn-list .pn-page-{p}{{display:block}}" for p in range(1, pages + 1)]
        rules.append(f"#{vid} .pn-list.pn-searching .pn-page{{display:block}}")
    return "<style>" + "\n".join(rules) + "</style>"


def runs_html(vid: str, runs: Sequence[Run], headers: Sequence[str], *, title: str = "Runs",
              max_rows: int | None = None, more_note: str = "") -> str:
    """Every run (up to ``max_rows``), wrong and errored first, under the outcome filter and in pages."""
    if not runs:
        return ""
    order = sorted(range(len(runs)), key=lambda i: _ORDER.get(runs[i].outcome, 3))
    listed = order if max_rows is None else order[:max_rows]
    pages = [listed[i:i + PAGE_ROWS] for i in range(0, len(listed), PAGE_ROWS)]
    counts = {o: sum(r.outcome == o for r in runs) for o in OUTCOMES}
    bar = [f'<input type="radio" name="{vid}-f" id="{vid}-f-all" checked><label for="{vid}-f-all">all ({len(runs):,})</label>']
    bar += [f'<input type="radio" name="{vid}-f" id="{vid}-f-{o}"><label for="{vid}-f-{o}">{o} ({counts[o]:,})</label>'
            for o in OUTCOMES]
    if len(pages) > 1:
        bar.append("<br>pages: ")
        bar += [f'<input type="radio" name="{vid}-p" id="{vid}-p{p}"{" checked" if p == 1 else ""}>'
                f'<label for="{vid}-p{p}">{p}</label>' for p in range(1, len(pages) + 1)]
    body = "".join(f'<div class="pn-page pn-page-{p}">{"".join(_line(runs[i]) for i in page)}</div>'
                   for p, page in enumerate(pages, start=1))
    more = ""
    if len(listed) < len(runs):
        more = f"<p>{len(runs) - len(listed):,} more runs (passed ones last){': ' + esc(more_note) if more_note else ''}.</p>"
    return (f'<div class="pn-v pn-runs pn-bar" id="{vid}">{_rules(vid, len(pages))}<b>{esc(title)} ({len(runs):,}), '
            f"wrong and errored first</b><br>{''.join(bar)}"
            f'<div class="pn-list">{_head(headers)}{body}</div>{more}</div>')
