"""The rich view of a JobResult in a notebook: summary card, what needs attention (the failure
groups, ``run_list``), tables, bars, heatmap, the tools offered, then every run opening on its
transcript (``transcript``), under a filter and in pages.

The HTML is deterministic (a fixed Styler uuid, ids derived from the result, no timestamps or
random ids beyond what the result holds), so notebooks saved with it compare cleanly under nbval. Bars and the heatmap
are plain HTML, so the view needs no plotting library; ``plots.py`` draws matplotlib figures
for those who want them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core.frames import is_nan
from ..core.html_text import escape_html, text_frame
from ..core.scoring.reasons import failure_groups, failure_reasons, outcome_of
from ..core.stats.compare import comparison_frame, format_ci
from ..core.stats.repeats import top_pass_hat_k
from ..core.stats.units import counted, format_pct
from ..core.store.stored_rows import StoredRows
from .html_parts import STYLE, pre
from .run_list import Run, failures_html, runs_html, view_id
from .transcript import job_run_html

if TYPE_CHECKING:
    import pandas as pd
    from pandas.io.formats.style import Styler

    from ..core.jobs.permutate_result import JobResult

__all__ = ["JobResultView", "render_html", "job_runs", "MAX_VIEW_ROWS", "RUN_HEADERS", "render_text", "heatmap_frame", "flaky_frame", "escaped", "styled", "summary_table",
           "SUMMARY_LABELS"]

#: Runs listed in a notebook's view (failures first, in pages); the report lists every one.
MAX_VIEW_ROWS = 1000
#: The short columns of a list of runs; every other field is in the run's transcript.
RUN_HEADERS = ("case", "permutation", "language", "verdict", "reason")
_CARD_FIGURES = [
    ("overall_accuracy", "overall", True), ("accuracy_step_a", "step a: plugin", True),
    ("accuracy_step_b", "step b: operation", True), ("accuracy_step_c", "step c: parameters", True),
    ("total_test_cases", "runs", False), ("wrong_cases", "wrong", False), ("errored_cases", "errored", False),
    ("total_llm_tokens_used", "tokens", False), ("total_llm_api_cost", "cost $", False),
    ("total_run_time", "wall time s", False),
]
#: the summary table's column headings, for people (the DataFrames keep the raw field names)
SUMMARY_LABELS = {key: label for key, label, _ in _CARD_FIGURES} | {
    "model": "model", "average_response_time_sec": "mean response s", "total_llm_api_cost": "cost $"}
_SUMMARY_COLUMNS = ["total_test_cases", "wrong_cases", "errored_cases", "overall_accuracy", "accuracy_step_a", "accuracy_step_b",
                    "accuracy_step_c", "average_response_time_sec", "total_llm_tokens_used", "total_llm_api_cost"]


def _fmt(value: Any, pct: bool = False) -> str:
    if value is None:
        return "–"
    if pct:
        return format_pct(value)
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return escape_html(str(value))


def _card(result: JobResult) -> str:
    s = result.summary
    status = "" if len(result.details) == result.planned_runs else (
        f" · <b>{result.status}</b> ({len(result.details)} of {result.planned_runs} runs)")
    cells = "".join(
        f'<div style="padding:6px 12px;border-right:1px solid #ddd"><div style="font-size:11px;color:#666">{label}</div>'
        f'<div style="font-size:18px;font-weight:600">{_fmt(s[key], pct)}</div></div>'
        for key, label, pct in _CARD_FIGURES
    )
    return (
        f'<div style="font-family:sans-serif;margin-bottom:8px"><div style="font-weight:600;margin:4px 0">'
        f"{escape_html(result.job_name)}{status}</div>"
        f'<div style="display:flex;flex-wrap:wrap;border:1px solid #ddd;border-radius:4px">{cells}</div></div>'
    )


def _bars(result: JobResult) -> str:
    rows = []
    labels = result.labels()
    for name, s in result.summary_by("permutation_name").items():
        value = s["overall_accuracy"] or 0.0
        low, high = s["overall_accuracy_ci"] or (value, value)
        whisker = (f'<div style="position:absolute;top:6px;left:{low * 3.2:.1f}px;width:{(high - low) * 3.2:.1f}px;'
                   'height:2px;background:#222"></div>')  # the 95% interval as a line across the bar
        rows.append(
            f'<tr><td style="padding:2px 8px;text-align:left">{escape_html(labels.get(name, name))}</td>'
            f'<td style="width:320px;padding:2px"><div style="position:relative;height:14px">'
            f'<div style="background:#4c72b0;height:14px;width:{value * 3.2:.1f}px"></div>{whisker}</div></td>'
            f'<td style="padding:2px 8px">{format_ci(s["overall_accuracy"], s["overall_accuracy_ci"])}</td></tr>'
        )
    return ('<div style="font-family:sans-serif"><b>Overall accuracy by permutation (line: 95% interval)</b>'
            f'<table style="border-collapse:collapse">{"".join(rows)}</table></div>')


def heatmap_frame(result: JobResult) -> pd.DataFrame:
    """Pass rate (%) per test case (rows) and permutation (columns), from the repeat cells' counts."""
    import pandas as pd

    totals: dict[tuple[str, str], list[int]] = {}
    for (permutation, case, _), (runs, passes) in result.cells().items():
        counts = totals.setdefault((case, permutation), [0, 0])
        counts[0] += runs
        counts[1] += passes
    if not totals:
        return pd.DataFrame()
    cases = list(dict.fromkeys(case for case, _ in totals))
    permutations = list(dict.fromkeys(permutation for _, permutation in totals))
    labels = result.labels()  # columns name the model that answered when --provider replaced it
    frame = pd.DataFrame(index=pd.Index(cases, name="test_case_name"),
                         columns=pd.Index(permutations, name="permutation_name"), dtype=float)
    for (case, permutation), (runs, passes) in totals.items():
        frame.loc[case, permutation] = passes * 100 / runs
    return frame.rename(columns=labels)


def styled(frame: pd.DataFrame) -> Styler:
    """``frame.style`` over ``text_frame(frame)`` (dict cells as JSON, no control characters), ``escaped``."""
    return escaped(text_frame(frame).style)


def escaped(styler: Styler) -> Styler:
    """Headers as text, never as HTML: a plugin or permutation named ``<img onerror=...>`` must
    not run in the notebook. Cells: every ``Styler.format`` call passes ``escape="html"`` (a
    later call resets the cells it does not name)."""
    return styler.format_index(escape="html", axis=0).format_index(escape="html", axis=1)


def _heat_colour(value: float) -> str:
    """Red (0%) to green (100%)."""
    red = int(244 - (244 - 99) * value / 100)
    green = int(109 + (190 - 109) * value / 100)
    blue = int(67 + (123 - 67) * value / 100)
    return f"background-color: #{red:02x}{green:02x}{blue:02x}"


def _heatmap(result: JobResult) -> str:
    frame = heatmap_frame(result)
    if frame.empty:
        return ""
    styler = (styled(frame).set_uuid("permutate-heatmap")
              .map(lambda v: "" if is_nan(v) else _heat_colour(v))
              .format(format_pct, na_rep="–", escape="html")
              .set_caption("Pass rate: test case x permutation"))
    return styler.to_html()


def _rows(result: JobResult) -> list[dict[str, Any]]:
    """Every detail row as a dict (a stored result's straight from the store)."""
    details = result.details
    return list(details.dicts()) if isinstance(details, StoredRows) else [row.to_dict() for row in details]


def _tools_section(result: JobResult, vid: str) -> str:
    """The tools offered, once per view, each with its schema on demand (the transcripts link here)."""
    groups = [(name, snap.get("tools") or []) for name, snap in (result.tools or {}).items()]
    if not any(tools for _, tools in groups):
        return ""
    body = "".join(
        f"<h4>{escape_html(name)}</h4>" + "".join(
            f"<details><summary><b>{escape_html(t.get('name'))}</b> {escape_html((t.get('description') or '').splitlines()[0][:160] if t.get('description') else '')}"
            f"</summary>{pre(t.get('parameters') or {})}</details>" for t in tools)
        for name, tools in groups)
    return (f'<details class="pn-v" id="{vid}-tools"><summary><b>Tools offered</b> '
            f"({sum(len(t) for _, t in groups)})</summary><div class=\"pn-t\">{body}</div></details>")


def job_runs(result: JobResult, vid: str) -> tuple[list[Run], list[tuple[str, list[int]]]]:
    """The runs as the lists show them, and the failure groups."""
    rows = _rows(result)
    request, tools, anchor = result.request, result.tools, f"{vid}-tools"

    def run(row: dict[str, Any]) -> Run:
        reasons = tuple(failure_reasons(row))
        return Run(str(outcome_of(row)), reasons,
                   (str(row["test_case_name"]), str(row["permutation_name"]), str(row["language"]),
                    str(outcome_of(row)), "; ".join(reasons)),
                   lambda: job_run_html(row, request, tools, schemas=False, tools_anchor=anchor))

    return [run(row) for row in rows], failure_groups(rows)


def _runs(result: JobResult, vid: str, max_rows: int | None) -> tuple[str, str]:
    """The failure groups and the list of runs."""
    if not result.summary["total_test_cases"]:
        return "", "<p>No runs finished.</p>"
    runs, groups = job_runs(result, vid)
    return (failures_html(runs, RUN_HEADERS, groups),
            runs_html(vid, runs, RUN_HEADERS, max_rows=max_rows,
                      more_note="result.write('report.html') lists every run, result.details_df has every field"))


_ACCURACIES = ("overall_accuracy", "accuracy_step_a", "accuracy_step_b", "accuracy_step_c")


def summary_table(result: JobResult) -> pd.DataFrame:
    """The per-permutation summary as shown: the model that ran, then the figures under people's labels,
    each accuracy with its 95% interval (``62.5% [30.6, 86.3]``)."""
    credits = result.models()
    models = {p["name"]: credits[p["name"]] if p["llm"].get("replaces")
              else f"{p['llm'].get('provider')}[{p['llm'].get('model_name') or 'default'}]" for p in result.permutations}
    summary = result.summary_df
    df = summary[_SUMMARY_COLUMNS].copy()
    for key in _ACCURACIES:
        df[key] = [format_ci(None if is_nan(v) else v, ci) for v, ci in zip(summary[key], summary[f"{key}_ci"])]
    df.insert(0, "model", [models.get(name, "") for name in df.index])
    if result.summary.get("conversation_runs"):  # per-turn accuracy and pass^k beside the conversations' accuracy
        at = list(df.columns).index("overall_accuracy") + 1
        df.insert(at, "turn accuracy", [_fmt(None if is_nan(v) else v, True) for v in summary["turn_accuracy"]])
        top = top_pass_hat_k(result.summary)
        if top is not None:
            df.insert(at + 1, f"pass^{top[0]}", [_fmt(figures.get(str(top[0])), True) for figures in summary["pass_hat_k"]])
    return df.rename(columns=SUMMARY_LABELS)


def _permutations(result: JobResult) -> str:
    formats = {SUMMARY_LABELS["average_response_time_sec"]: "{:.3f}", SUMMARY_LABELS["total_llm_api_cost"]: "{:.6f}"}
    styler = styled(summary_table(result)).set_uuid("permutate-permutations")
    return styler.format(formats, na_rep="–", escape="html").to_html()


def _scroll(part: str) -> str:
    """Wide tables scroll sideways instead of being cut off at the output's right edge."""
    return f'<div style="overflow-x:auto;max-width:100%">{part}</div>' if part else ""


def _comparison(result: JobResult) -> str:
    """All pairs of permutations, paired over the same runs, with Holm-adjusted p-values."""
    comparisons = result.pairwise()
    if not comparisons:  # fewer than two permutations, or none sharing a run (a job cancelled early)
        return ""
    frame = _credited(comparison_frame(comparisons), result)
    styler = (styled(frame).set_uuid("permutate-comparison").hide(axis="index")
              .format(escape="html")
              .set_caption("Paired comparison: b - a in accuracy points, 95% interval, p (Holm-adjusted for all pairs)"))
    return styler.to_html()


def _credited(frame: pd.DataFrame, result: JobResult) -> pd.DataFrame:
    """A comparison frame whose ``a`` and ``b`` name the model that answered (``result.labels``)."""
    labels = result.labels()
    return frame.assign(a=frame["a"].map(lambda n: labels.get(n, n)), b=frame["b"].map(lambda n: labels.get(n, n)))


def flaky_frame(result: JobResult) -> pd.DataFrame:
    """Cells (permutation x test case x language) where some but not all repeats passed."""
    import pandas as pd

    return pd.DataFrame(result.summary["flaky_cases"],
                        columns=["permutation_name", "test_case_name", "language", "passes", "repeats"])


def _flaky(result: JobResult) -> str:
    frame = flaky_frame(result)
    if frame.empty:
        return ""
    return (styled(frame).set_uuid("permutate-flaky").format(escape="html").hide(axis="index")
            .set_caption(f"Flaky cases: some but not all repeats pass ({len(frame)})").to_html())


def render_html(result: JobResult, max_rows: int | None = MAX_VIEW_ROWS) -> str:
    """The view: card, what needs attention, the tables and charts, the tools, then the runs (up to
    ``max_rows`` of them; None: all, as the report has them)."""
    vid = view_id("job", result.job_id, result.job_name, len(result.details), max_rows)
    failures, runs = _runs(result, vid, max_rows)
    return "".join([STYLE, _card(result), failures, _scroll(_permutations(result)), _bars(result),
                    _scroll(_comparison(result)), _scroll(_flaky(result)), _scroll(_heatmap(result)),
                    _tools_section(result, vid), runs])


def render_text(result: JobResult) -> str:
    """The plain-text view (heading line, summary table, paired comparisons), for ``text/plain`` and terminals."""
    s = result.summary
    head = (f"{result.job_name} [{result.status}]: {counted(s['total_test_cases'], 'run')}, "
            f"overall {_fmt(s['overall_accuracy'], True)}, wrong {s['wrong_cases']}, errored {s['errored_cases']}")
    text = head + "\n" + summary_table(result).drop(columns=[SUMMARY_LABELS["average_response_time_sec"]]).to_string()
    comparisons = result.pairwise()
    if comparisons:
        text += ("\n\npaired comparison (b - a, Holm-adjusted p):\n"
                 + _credited(comparison_frame(comparisons), result).to_string(index=False))
    return text


class JobResultView:
    """Display wrapper; ``JobResult`` delegates its ``_repr_mimebundle_`` here."""

    def __init__(self, result: JobResult) -> None:
        self.result = result

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": render_text(self.result), "text/html": render_html(self.result)}
