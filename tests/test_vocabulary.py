"""One vocabulary on every face: "wrong" (answered, verdict no) and "errored" (no verdict) apart, one
percentage unit, one p-value format. Card, text view, CLI table and a real XLSX read back with openpyxl."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

import permutate_nb as pn
from permutate_nb.cli import print_summary
from permutate_nb.core.stats.compare import comparison_frame
from permutate_nb.core.stats.units import format_p, format_pct
from permutate_nb.notebook.view import render_html, render_text

from .helpers import klarna_request

GOOD = {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}}
REFUSED = {"status": 400, "body": {"error": {"message": "bad request", "type": "invalid_request_error"}}}


def _mixed(scripted: Any) -> pn.JobResult:
    """Two permutations x 2 cases x 2 repeats: shirts always right; shirts_params wrong once, then errored."""
    scripted.set_script({"rules": [{"match": "Show me", "responses": [GOOD]},
                                   {"responses": [{"text": "no tool for that"}, REFUSED]}]})
    request = klarna_request(base_url=scripted.base_url, cache=False, concurrency=1, repeats=2, max_retries=0)
    request["permutations"].append({**request["permutations"][0], "name": "p2"})
    return pn.run(request)


def test_wrong_and_errored_are_told_apart_everywhere(scripted: Any, tmp_path: Path) -> None:
    result = _mixed(scripted)
    s = result.summary
    assert (s["total_test_cases"], s["passed_cases"], s["wrong_cases"], s["errored_cases"]) == (8, 4, 1, 3)

    html = render_html(result)
    assert ">wrong</div>" in html and ">errored</div>" in html and "failed runs" not in html
    assert render_text(result).startswith(f"{result.job_name} [PARTIAL_SUCCESS]: 8 runs, overall 50.0%, wrong 1, errored 3")
    assert "wrong=1, errored=3" in repr(result)

    out = io.StringIO()
    print_summary(result, out)
    header = out.getvalue().splitlines()[0].split()
    assert header[:4] == ["permutation", "runs", "wrong", "errored"] and "failed" not in header

    wb = load_workbook(result.to_excel(tmp_path / "r.xlsx"))
    summary = {c.value: v for c, v in zip(wb["Summary"][1], wb["Summary"][2])}
    assert (summary["wrong_cases"].value, summary["errored_cases"].value) == (1, 3)
    details = wb["Details"]
    header = [c.value for c in details[1]]
    assert header[header.index("passed") + 1] == "outcome"
    outcomes = [row[header.index("outcome")] for row in details.iter_rows(min_row=2)]
    assert sorted(c.value for c in outcomes) == ["errored"] * 3 + ["passed"] * 4 + ["wrong"]
    assert {c.fill.fgColor.rgb[-6:] for c in outcomes if c.value == "errored"} == {"FFEB9C"}


def test_one_percentage_unit_and_one_p_value_format(scripted: Any, tmp_path: Path) -> None:
    result = _mixed(scripted)
    wb = load_workbook(result.to_excel(tmp_path / "r.xlsx"))
    summary = {c.value: v for c, v in zip(wb["Summary"][1], wb["Summary"][2])}
    for column in ("overall_accuracy", "pass@1", "pass^2", "overall_accuracy_ci_low"):
        assert summary[column].number_format == "0.00%" and 0 <= summary[column].value <= 1, column
    assert summary["pass@1"].value == result.summary["pass_at_k"]["1"] / 100
    comparison = {c.value: v for c, v in zip(wb["Comparison"][1], wb["Comparison"][2])}
    pair = result.pairwise()[0]
    assert comparison["difference"].number_format == "0.00%"
    assert comparison["difference"].value == pair.difference / 100
    assert comparison["accuracy_b"].value == pair.accuracy_b / 100

    frame = comparison_frame([pair])
    assert frame.loc[0, "p"] == format_p(pair.p_value) and f"p = {format_p(pair.p_value)}" in str(pair)
    assert (format_p(0.03125), format_p(0.0004), format_p(1.0)) == ("0.031", "<0.001", "1.000")
    html = render_html(result)
    heatmap = html[html.index('id="T_permutate-heatmap"'):]
    heatmap = heatmap[:heatmap.index("</table>")]
    assert format_pct(100.0) in heatmap and format_pct(0.0) in heatmap  # the heatmap writes the card's unit
