"""Why a run failed, end to end: modes, parameter_mismatches in rows, summary counts, sheet, view."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

import permutate_nb as pn
from permutate_nb.notebook.view import render_html

from ..helpers import klarna_request


def _run(scripted: Any, arguments: dict[str, Any], **case: Any) -> pn.JobResult:
    scripted.set_script({"rules": [{"responses": [{"tool_call": {"name": "productsUsingGET", "arguments": arguments}}]}]})
    data = klarna_request(base_url=scripted.base_url, cache=False)
    data["test_cases"] = [{**data["test_cases"][1], **case}]
    return pn.run(data, store=False)


def test_query_values_compare_as_sent_and_mismatches_are_written_down(scripted: Any, tmp_path: Path) -> None:
    result = _run(scripted, {"q": "t shirt", "size": "6"})  # size is a query integer: "6" travels as 6
    row = result.details[0]
    assert not row.passed and row.parameter_mapped_percentage == 50.0
    assert row.parameter_mismatches == [{"parameter": "size", "expected": 5, "actual": "6", "reason": "value"}]
    summary = result.summary
    assert (summary["parameter_mismatches_value"], summary["parameter_mismatches_missing"]) == (1, 0)

    sheet = load_workbook(result.to_excel(tmp_path / "r.xlsx"))["Details"]
    header = [c.value for c in sheet[1]]
    assert sheet.cell(row=2, column=header.index("parameter_mismatches") + 1).value == "size: value (expected 5, got '6')"
    assert "size: value (expected 5, got '6')</td>" in html.unescape(render_html(result))  # cells are escaped


def test_query_integer_sent_as_text_passes_in_lenient_mode(scripted: Any) -> None:
    row = _run(scripted, {"q": "t  Shirt", "size": "5", "min_price": 3}).details[0]
    assert row.passed and row.parameter_mismatches == []


def test_per_case_strict_mode_fails_an_invented_parameter(scripted: Any) -> None:
    row = _run(scripted, {"q": "T shirt", "size": 5, "min_price": 3}, parameter_matching="strict").details[0]
    assert not row.passed and row.parameter_mapped_percentage == 100.0
    assert row.parameter_mismatches == [{"parameter": "min_price", "expected": None, "actual": 3, "reason": "unexpected"}]


def test_matchers_through_the_pipeline(scripted: Any) -> None:
    expected = {"q": {"$regex": "(?i)t.?shirts?"}, "size": {"$one_of": [5, 10]}, "max_price": {"$optional": True}}
    assert _run(scripted, {"q": "T-shirt", "size": 10}, expected_parameters=expected).details[0].passed
    row = _run(scripted, {"q": "hat", "size": 10}, expected_parameters=expected).details[0]
    assert not row.passed and [m["reason"] for m in row.parameter_mismatches] == ["value"]


def test_a_regex_that_backtracks_for_ever_fails_its_run_with_regex_timeout(scripted: Any) -> None:
    expected = {"q": {"$regex": "(a|aa)+$"}, "size": 5}
    row = _run(scripted, {"q": "a" * 40 + "!", "size": 5}, expected_parameters=expected).details[0]
    assert not row.passed and not row.is_run_completed
    assert row.error == "regex timeout"
