"""Exports read back: XLSX with openpyxl (sheets, formats, fills, text-not-formula), CSV, no secrets."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

import permutate_nb as pn

from .helpers import klarna_request

TRICKY = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tindent", "\rreturn"]


def _result(scripted: Any, text: str) -> pn.JobResult:
    scripted.set_script({"rules": [
        {"match": "Show me", "responses": [{"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt"}}}]},
        {"responses": [{"text": text}]},
    ]})
    data = klarna_request(base_url=scripted.base_url, cache=False)
    data["config"]["openplugin_api_key"] = "sk-secret-value"
    return pn.run(data)


@pytest.mark.parametrize("text", TRICKY)
def test_xlsx_cells_that_look_like_formulas_stay_text(scripted: Any, tmp_path: Path, text: str) -> None:
    path = _result(scripted, text).to_excel(tmp_path / "r.xlsx")
    ws = load_workbook(path)["Details"]
    header = [c.value for c in ws[1]]
    cell = ws.cell(row=3, column=header.index("final_output") + 1)
    assert cell.data_type == "s"  # a string cell, never a formula
    assert cell.value == text.replace("\r", "\n")  # XML reads a carriage return back as a newline


def test_xlsx_layout(scripted: Any, tmp_path: Path) -> None:
    result = _result(scripted, "plain")
    wb = load_workbook(result.to_excel(tmp_path / "r.xlsx"))
    assert wb.sheetnames == ["Summary", "Permutations", "Details", "Request"]
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2"
        assert ws["A1"].font.bold
        assert ws.auto_filter.ref
    details = wb["Details"]
    header = [c.value for c in details[1]]
    passed = header.index("passed") + 1
    assert details.cell(row=2, column=passed).value is True
    assert details.cell(row=2, column=passed).fill.fgColor.rgb.endswith("C6EFCE")
    assert details.cell(row=3, column=passed).fill.fgColor.rgb.endswith("FFC7CE")
    pct = details.cell(row=3, column=header.index("parameter_mapped_percentage") + 1)
    assert pct.value == 0 and pct.number_format == "0.00%"
    perms = wb["Permutations"]
    col = [c.value for c in perms[1]].index("accuracy_step_a") + 1
    assert perms.cell(row=2, column=col).value == 0.5 and perms.cell(row=2, column=col).number_format == "0.00%"
    assert details.column_dimensions["A"].width >= len("permutation_name")
    request_text = "\n".join(str(c.value) for c in wb["Request"]["A"])
    assert "name: klarna_test" in request_text


def test_no_api_key_in_any_export(scripted: Any, tmp_path: Path) -> None:
    result = _result(scripted, "plain")
    for path in (result.to_excel(tmp_path / "r.xlsx"), result.to_csv(tmp_path / "r.csv"), result.to_json(tmp_path / "r.json")):
        if path.suffix == ".xlsx":
            wb = load_workbook(path)
            text = " ".join(str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row)
        else:
            text = path.read_text()
        assert "sk-secret-value" not in text and "test-key" not in text
    assert result.request["config"]["openplugin_api_key"] == "***"


def test_csv_rows(scripted: Any, tmp_path: Path) -> None:
    result = _result(scripted, "=danger()")
    with (result.to_csv(tmp_path / "r.csv")).open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["test_case_name"] for r in rows] == ["shirts", "shirts_params"]
    assert rows[1]["final_output"] == "'=danger()"


def test_column_headers_that_look_like_formulas_stay_text(tmp_path: Path) -> None:
    """A batch CSV's header is untrusted like its cells: ``=HYPERLINK(...)`` is text in XLSX and CSV."""
    import pandas as pd

    from permutate_nb.export import write_frame

    header = '=HYPERLINK("http://example.com","x")'
    frame = pd.DataFrame([{"prompt": "hi", header: "v"}])
    sheet = load_workbook(write_frame(frame, tmp_path / "b.xlsx"))["Results"]
    cell = next(c for c in sheet[1] if c.value == header)
    assert cell.data_type == "s"
    assert (write_frame(frame, tmp_path / "b.csv").read_text("utf-8").splitlines()[0]
            == "prompt,\"'=HYPERLINK(\"\"http://example.com\"\",\"\"x\"\")\"")
