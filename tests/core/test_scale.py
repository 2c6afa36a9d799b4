"""Rows stream to the store: flat memory, summaries kept as rows finish, results read lazily, exports streamed.

Real jobs against the scripted server, real SQLite files, real files read back (csv, json,
openpyxl for XLSX, pyarrow for Parquet).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

import permutate_nb as pn
from permutate_nb.core.jobs.kinds import results
from permutate_nb.core.jobs.permutate_result import RunDetail, summarise
from permutate_nb.core.store import stored_rows
from permutate_nb.core.store.job_store import JobStore
from permutate_nb.core.store.stored_rows import StoredRows
from permutate_nb.export.details import DETAIL_FIELDS, XLSX_MAX_ROWS, check_xlsx_rows
from permutate_nb.notebook.run_list import PAGE_ROWS
from permutate_nb.notebook.view import render_html
from tests.helpers import DEADLINE, cli_process, cpu_growth, klarna_cases_request, stored_job_of

pytestmark = pytest.mark.slow  # a minute or more on 2 cores: -m 'not slow' leaves it out

GOOD = {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}}
WRONG = {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 6}}}


_MEMORY_SCRIPT = """
import json, resource, sys
import permutate_nb as pn

small, big = (json.load(open(path)) for path in sys.argv[1:3])
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
pn.run(small, cache=False)
before = rss()
result = pn.run(big, cache=False)
print(json.dumps({"before": before, "after": rss(), "runs": result.summary["total_test_cases"],
                  "passed": result.summary["passed_cases"], "details": type(result.details).__name__}))
"""


def test_memory_stays_flat_as_a_job_grows(scripted: Any, tmp_path: Path) -> None:
    """A job of 26,000 runs peaks no higher than one of 1,000 in the same process (within 8 MB); keeping
    every row in memory, as before rows streamed to the store, measured 16 MB more (91 against 74 MB)."""
    scripted.set_script({"default": GOOD})
    scripted.record = False
    small, big = tmp_path / "small.json", tmp_path / "big.json"
    small.write_text(json.dumps(klarna_cases_request(scripted.base_url, cases=10, repeats=100)))
    big.write_text(json.dumps(klarna_cases_request(scripted.base_url, cases=260, repeats=100)))
    out = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT, str(small), str(big)], capture_output=True, text=True,
                         timeout=5 * DEADLINE, check=True)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["runs"] == figures["passed"] == 26_000 and figures["details"] == "StoredRows"
    assert figures["after"] - figures["before"] < 8, figures


def _mixed_job(scripted: Any, **kwargs: Any) -> pn.JobResult:
    """Two permutations x 3 cases x 4 repeats: case0 passes once then has a wrong parameter, case1's runs
    fail (HTTP 400), case2 passes."""
    scripted.set_script({"rules": [
        {"match": "Show me 1 ", "responses": [GOOD, WRONG]},
        {"match": "Show me 2 ", "responses": [{"status": 400, "body": {"error": {"message": "bad request"}}}]},
        {"responses": [GOOD]},
    ]})
    return pn.run(klarna_cases_request(scripted.base_url, cases=3, repeats=4, permutations=2, max_retries=0), cache=False, **kwargs)


def test_the_summary_kept_while_running_is_the_one_the_stored_rows_give(scripted: Any) -> None:
    result = _mixed_job(scripted)
    assert isinstance(result.details, StoredRows) and result.tallies is not None
    rows = list(result.details)
    assert len(rows) == len(result.details) == 24
    assert result.status == "PARTIAL_SUCCESS"
    assert result.summary == summarise(rows, total_run_time=result.total_run_time)
    for key in ("permutation_name", "language", "test_case_name"):
        regrouped: dict[str, list[RunDetail]] = {}
        for row in rows:
            regrouped.setdefault(getattr(row, key), []).append(row)
        assert result.summary_by(key) == {name: summarise(group) for name, group in regrouped.items()}
    summary = result.summary
    assert summary["failed_cases"] == 8 and summary["passed_cases"] == 9 and len(summary["flaky_cases"]) == 1
    assert summary["parameter_mismatches_value"] > 0
    stored = results(result.job_id)  # read again from the store, nothing kept
    assert stored.tallies is None and stored.summary_by("test_case_name") == result.summary_by("test_case_name")
    assert stored.to_dict()["details"] == result.to_dict()["details"]


def test_stored_rows_read_in_chunks_index_and_slice(scripted: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _mixed_job(scripted)
    monkeypatch.setattr(stored_rows, "CHUNK", 5)  # 24 rows: four full chunks and a short one
    everything = [row.to_dict() for row in result.details]
    assert len(everything) == 24 and [r["permutation_name"] for r in everything] == ["p0"] * 12 + ["p1"] * 12
    assert [r.to_dict() for r in result.details[3:9]] == everything[3:9]
    assert result.details[-1].to_dict() == everything[-1] and result.details[0].to_dict() == everything[0]
    with pytest.raises(IndexError):
        result.details[24]
    frame = result.details_df  # one SQL query: booleans and objects as the in-memory frame has them
    in_memory = pn.JobResult(result.job_name, "", "", None, [], list(result.details), 0.0).details_df
    assert list(frame.columns) == list(in_memory.columns) == list(RunDetail.__dataclass_fields__)
    assert frame["passed"].dtype == bool and frame["passed"].tolist() == in_memory["passed"].tolist()
    assert frame["plugin_parameters_mapped"].tolist() == in_memory["plugin_parameters_mapped"].tolist()
    assert frame["parameter_mismatches"].tolist() == in_memory["parameter_mismatches"].tolist()
    assert frame["error"].tolist() == in_memory["error"].tolist()


@pytest.mark.parametrize("stored", [True, False])
def test_every_export_reads_back_as_the_rows(scripted: Any, tmp_path: Path, stored: bool) -> None:
    import pyarrow.parquet as pq

    result = _mixed_job(scripted, store=stored)
    assert isinstance(result.details, StoredRows if stored else list)
    rows = [row.to_dict() for row in result.details]
    with result.write(tmp_path / "r.csv").open(newline="", encoding="utf-8") as handle:
        read = list(csv.DictReader(handle))
    assert len(read) == 24 and list(read[0]) == list(RunDetail.__dataclass_fields__)
    assert [r["test_case_name"] for r in read] == [r["test_case_name"] for r in rows]
    assert [r["passed"] for r in read] == [str(r["passed"]) for r in rows]
    assert [json.loads(line) for line in result.write(tmp_path / "r.jsonl").read_text().splitlines()] == rows
    assert json.loads(result.write(tmp_path / "r.json").read_text()) == result.to_dict()
    table = pq.read_table(result.write(tmp_path / "r.parquet"))
    assert table.column_names == list(RunDetail.__dataclass_fields__) and table.num_rows == 24
    assert table.column("passed").to_pylist() == [r["passed"] for r in rows]
    assert table.column("response_time_sec").to_pylist() == [r["response_time_sec"] for r in rows]
    assert [json.loads(v) if v else v for v in table.column("plugin_parameters_mapped").to_pylist()] == \
        [r["plugin_parameters_mapped"] for r in rows]
    book = load_workbook(result.write(tmp_path / "r.xlsx"))
    assert book.sheetnames[:4] == ["Summary", "Permutations", "Details", "Request"] and "Comparison" in book.sheetnames
    details = book["Details"]
    fields = list(RunDetail.__dataclass_fields__)
    at = fields.index("passed") + 1  # the sheet adds the outcome (passed / wrong / errored) after passed
    assert details.max_row == 25 and details.freeze_panes == "A2" and details.auto_filter.ref == f"A1:{get_column_letter(len(DETAIL_FIELDS) + 1)}25"
    header = [cell.value for cell in details[1]]
    assert header == [*fields[:at], "outcome", *fields[at:]]
    assert [c.value for c in details["D"][1:]] == [r["test_case_name"] for r in rows]
    passed = header.index("passed")
    assert {row[passed].fill.fgColor.rgb[-6:] for row in details.iter_rows(min_row=2)} == {"C6EFCE", "FFC7CE"}


def test_xlsx_past_its_row_limit_refuses_in_one_line(tmp_path: Path, permutate_home: Path) -> None:
    """A stored job of 1,048,576 rows (inserted by SQL) is one more than a sheet holds below its header."""
    store = JobStore()
    job_id = stored_job_of(store, XLSX_MAX_ROWS)
    result = results(job_id, store=store)
    assert len(result.details) == XLSX_MAX_ROWS
    target = tmp_path / "big.xlsx"

    def read_a_row(*args: Any) -> Any:
        raise AssertionError("a row was read before the refusal")

    with pytest.MonkeyPatch.context() as patch:  # refused before reading the rows: reading one fails the test
        for name in ("__iter__", "__getitem__", "indexed_texts", "head", "select"):
            patch.setattr(StoredRows, name, read_a_row)
        with pytest.raises(pn.ConfigurationError) as refused:
            result.write(target)
    message = str(refused.value)
    assert "\n" not in message and "1,048,576 rows do not fit an XLSX sheet" in message and ".csv or .parquet" in message
    assert not target.exists()
    proc = cli_process("results", job_id, "--output", str(target), home=permutate_home)
    _, err = proc.communicate(timeout=DEADLINE)
    assert proc.returncode == 2 and err.count("\n") == 1 and ".csv or .parquet" in err and "Traceback" not in err
    check_xlsx_rows(target, XLSX_MAX_ROWS - 1)  # the most a sheet holds: accepted


def test_the_notebook_view_pages_its_runs_and_says_how_many_more(scripted: Any) -> None:
    scripted.set_script({"default": GOOD})
    result = pn.run(klarna_cases_request(scripted.base_url, cases=5, repeats=50), cache=False)
    html = render_html(pn.results(result.job_id), max_rows=200)
    assert "<b>Runs (250), wrong and errored first</b>" in html and "50 more runs (passed ones last)" in html
    runs = html[html.index("Runs (250)"):]
    assert runs.count('<details class="pn-row') == 200 and runs.count('class="pn-page pn-page-') == 200 // PAGE_ROWS
    assert render_html(pn.results(result.job_id)).count('<details class="pn-row') == 250  # the default lists 1,000


def test_twenty_thousand_test_cases_plan_in_linear_time(tmp_path: Path) -> None:
    """Planning grows with the cases, not with their square (the seconds are in benchmarks/planning.py)."""
    paths = {}
    for cases in (5_000, 20_000):
        paths[cases] = tmp_path / f"big{cases}.json"
        paths[cases].write_text(json.dumps(klarna_cases_request("http://127.0.0.1:9/v1", cases=cases, repeats=1)))
    assert pn.validate(paths[20_000]).total_runs == 20_000
    growth = cpu_growth(lambda n: pn.validate(paths[n]), 5_000)
    assert growth < 10, growth  # 4 times the cases: about 4-5 times the work; a quadratic step makes it 16


def test_a_big_yaml_request_loads_without_a_node_tree(tmp_path: Path) -> None:
    """PyYAML's load keeps a node tree (two marks per node) about five times the data's size; the one-pass
    loader holds little beyond the data it builds."""
    import tracemalloc

    import yaml

    from permutate_nb.core.request.safe_load import load_yaml

    text = yaml.safe_dump(klarna_cases_request("http://127.0.0.1:9/v1", cases=2_000, repeats=1), sort_keys=False)
    tracemalloc.start()
    try:
        data = load_yaml(text, "big.yaml")
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(data["test_cases"]) == 2_000
    assert peak - held < held, (peak, held)  # the old check-then-load: about 5.4x the data on top of it
    # how long 20,000 cases from YAML take to plan: benchmarks/planning.py
