"""The rich view of an EvalResult: status card, what needs attention (outputs whose answer or judgement
errored, or that scored low), per-metric means with 95% intervals, bars per model, then every output,
each opening on its transcript (answer against reference, each metric's score and the judge's reasoning,
the trace spans)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from ..core.frames import is_nan
from ..core.html_text import escape_html
from .eval_transcript import eval_outcome, eval_output_html, eval_reasons
from .html_parts import STYLE
from .run_list import Run, failures_html, runs_html, view_id
from .view import styled

if TYPE_CHECKING:
    from ..core.jobs.evals.results import EvalResult

__all__ = ["render_eval_html", "render_eval_text", "eval_runs"]

#: Outputs listed in a notebook's view; the report lists every one.
MAX_VIEW_ROWS = 1000
HEADERS = ("case", "model", "answer", "verdict", "reason")

_COLOURS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860"]


def _num(value: object) -> str:
    return "–" if value is None or is_nan(value) else f"{value:.3f}"


def render_eval_text(result: EvalResult) -> str:
    """The plain-text view (a heading line and the summary table), for ``text/plain`` and terminals."""
    df = result.summary_df
    head = f"eval {result.dataset['name']} ({result.dataset['cases']} cases) [{result.status}]"
    return head + ("\n" + df.to_string(index=False) if not df.empty else "")


def eval_runs(result: EvalResult) -> tuple[list[Run], list[tuple[str, list[int]]]]:
    """The outputs as runs, and their groups by reason (largest first)."""
    runs: list[Run] = []
    groups: dict[str, list[int]] = {}
    for index, output in enumerate(result.outputs):
        reasons = tuple(eval_reasons(output))
        for reason in reasons:
            groups.setdefault(reason, []).append(index)
        answer = str((output.get("output") or {}).get("generation_output") or "")
        runs.append(Run(eval_outcome(output), reasons,
                        (str(output.get("test_case_id")), str(output.get("model")), answer[:80], eval_outcome(output),
                         "; ".join(reasons)),
                        functools.partial(eval_output_html, output)))
    return runs, sorted(groups.items(), key=lambda item: -len(item[1]))


def render_eval_html(result: EvalResult, max_rows: int | None = MAX_VIEW_ROWS) -> str:
    """The view: card, what needs attention, the summary table, bars per metric, the outputs (up to ``max_rows``)."""
    df = result.summary_df
    status_colour = {"SUCCESS": "green", "PARTIAL_SUCCESS": "#b60", "ERROR": "#b00"}.get(result.status, "#666")
    card = (f"<div style='font-family:sans-serif;margin:4px 0'><b>{escape_html(result.dataset['name'])}</b> "
            f"v{result.dataset['version']} · {result.dataset['cases']} cases · models: "
            f"{escape_html(', '.join(result.parameters['models']))} · judge: {escape_html(str(result.parameters['judge_model']))}"
            f" · <b style='color:{status_colour}'>{result.status}</b></div>")
    table = (styled(df).set_uuid("permutate-eval").format({"mean": "{:.3f}", "ci95_low": "{:.3f}", "ci95_high": "{:.3f}"},
                                                         na_rep="–", escape="html").hide(axis="index").to_html())
    models = list(dict.fromkeys(df["model"]))
    rows = []
    for metric in dict.fromkeys(df["metric_type"]):
        bars = []
        for i, model in enumerate(models):
            match = df[(df["model"] == model) & (df["metric_type"] == metric)]
            mean = match["mean"].iloc[0] if len(match) else None
            width = 0 if mean is None or is_nan(mean) else mean * 240
            ci = (f" [{_num(match['ci95_low'].iloc[0])}, {_num(match['ci95_high'].iloc[0])}]" if len(match) else "")
            bars.append(f"<div style='display:flex;align-items:center;gap:6px'><div style='background:{_COLOURS[i % 6]};"
                        f"height:10px;width:{width:.1f}px'></div><span style='font-size:11px'>{escape_html(model)}: "
                        f"{_num(mean)}{ci}</span></div>")
        rows.append(f"<tr><td style='padding:2px 8px;text-align:left'>{escape_html(metric)}</td><td>{''.join(bars)}</td></tr>")
    chart = ("<div style='font-family:sans-serif'><b>Mean score by metric and model (95% CI)</b>"
             f"<table style='border-collapse:collapse'>{''.join(rows)}</table></div>")
    runs, groups = eval_runs(result)
    outputs = runs_html(view_id("eval", result.id, len(runs), max_rows), runs, HEADERS, title="Outputs", max_rows=max_rows,
                        more_note="result.write('report.html') lists every output")
    # a wide table scrolls, never cut off
    return STYLE + card + failures_html(runs, HEADERS, groups) + f"<div style='overflow-x:auto'>{table}</div>" + chart + outputs
