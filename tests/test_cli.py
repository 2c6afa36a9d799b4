"""The ``permutate`` command: exit codes, one-line errors, outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from openpyxl import load_workbook

from permutate_nb.cli import main

from .helpers import DEADLINE, FOREVER, PRODUCTS_URL, committed_runs, klarna_request, sigint_as_default, wait_until

GOOD = {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}}


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_run_writes_json_csv_xlsx(scripted: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scripted.set_script({"rules": [{"match": "Show me", "responses": [GOOD]}, {"responses": [{"text": "=HYPERLINK(\"x\")"}]}]})
    path = _write(tmp_path, klarna_request(base_url=scripted.base_url))
    for suffix in ("json", "csv", "xlsx"):
        out = tmp_path / f"result.{suffix}"
        assert main(["run", str(path), "--output", str(out), "--quiet"]) == 0
        assert out.exists()
    printed = capsys.readouterr().out
    assert "(all)" in printed and "50.0%" in printed
    data = json.loads((tmp_path / "result.json").read_text())
    assert data["summary"]["overall_accuracy"] == 50.0
    assert "'=HYPERLINK" in (tmp_path / "result.csv").read_text()
    wb = load_workbook(tmp_path / "result.xlsx")
    assert wb.sheetnames == ["Summary", "Permutations", "Details", "Request"]
    details = wb["Details"]
    header = [c.value for c in details[1]]
    final = details.cell(row=3, column=header.index("final_output") + 1)
    assert final.value == '=HYPERLINK("x")' and final.data_type == "s"
    summary = wb["Summary"]
    col = [c.value for c in summary[1]].index("overall_accuracy") + 1
    assert summary.cell(row=2, column=col).value == 0.5
    assert summary.cell(row=2, column=col).number_format == "0.00%"
    assert summary.freeze_panes == "A2"


def test_fail_under(scripted: Any, tmp_path: Path) -> None:
    scripted.set_script({"rules": [{"responses": [{"text": "no"}]}]})
    path = _write(tmp_path, klarna_request(base_url=scripted.base_url))
    assert main(["run", str(path), "--fail-under", "50", "--quiet"]) == 1
    assert main(["run", str(path), "--fail-under", "0", "--quiet"]) == 0


def test_validate_lists_matrix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = klarna_request(base_url="http://127.0.0.1:9/v1", repeats=3)
    data["config"]["auto_translate_to_languages"] = ["English", "German"]
    assert main(["validate", str(_write(tmp_path, data))]) == 0
    out = capsys.readouterr().out
    assert "1 permutation x 2 test cases x 2 languages x 3 repeats = 12 runs" in out
    assert "1 operations" in out
    assert "warning" not in out


def test_validate_warns_about_expectations_that_can_never_be_met(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = klarna_request()
    shirts, params = data["test_cases"]
    data["test_cases"] = [
        {**shirts, "name": "elsewhere", "expected_plugin_used": str(tmp_path / "Other.json")},
        {**shirts, "name": "typo", "expected_api_used": PRODUCTS_URL + "s"},
        {**params, "name": "post", "expected_method": "post"},
        {**params, "name": "params", "expected_parameters": {"q": "shirt", "colour": "red", "size": "five",
                                                             "max_price": {"$one_of": [10, 20]}}},
    ]
    assert main(["validate", str(_write(tmp_path, data))]) == 0
    lines = [line.strip() for line in capsys.readouterr().out.splitlines() if "warning" in line]
    assert lines == [
        f"warning: test case 'elsewhere': expected_plugin_used {tmp_path / 'Other.json'} is in no plugin group of "
        "the permutations that run it (klarna)",
        f"warning: test case 'typo': expected_api_used GET {PRODUCTS_URL}s is no operation of Klarna Shopping "
        f"(nearest: GET {PRODUCTS_URL})",
        f"warning: test case 'post': expected_api_used POST {PRODUCTS_URL} is no operation of Klarna Shopping "
        f"(nearest: GET {PRODUCTS_URL})",
        f"warning: test case 'params': expected parameter 'colour' is not a parameter of GET {PRODUCTS_URL} "
        "(it has: q, size, min_price, max_price)",
        "warning: test case 'params': expected value 'five' of parameter 'size' cannot be of type integer",
    ]


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["test_cases"][0].update(type="bogus"), "unknown test case type 'bogus'"),
        (lambda d: d["plugin_groups"][0]["plugins"][0].update(manifest_url="/nonexistent/ai-plugin.json"), "/nonexistent/ai-plugin.json"),
        (lambda d: d["permutations"][0]["tool_selector"].update(provider="Nope"), "selector 'Nope' is not available"),
    ],
)
def test_user_errors_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], change: Any, message: str) -> None:
    data = klarna_request(base_url="http://127.0.0.1:9/v1")
    change(data)
    assert main(["run", str(_write(tmp_path, data))]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert err.startswith("permutate: error: ") and len(err.strip().splitlines()) == 1


def test_missing_api_key_in_a_real_process(tmp_path: Path) -> None:
    path = _write(tmp_path, klarna_request())
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    proc = subprocess.run([sys.executable, "-m", "permutate_nb.cli", "run", str(path)], env=env,
                          capture_output=True, text=True, timeout=DEADLINE)
    assert proc.returncode == 2
    assert "no API key: set OPENAI_API_KEY" in proc.stderr and "Traceback" not in proc.stderr


def test_missing_request_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "/nonexistent/job.yaml"]) == 2
    assert "request file not found" in capsys.readouterr().err


def test_ctrl_c_keeps_finished_runs(scripted: Any, tmp_path: Path, permutate_home: Path) -> None:
    """SIGINT mid-job: the finished runs are printed and written, marked cancelled, exit 130.

    The signal goes once the first run is committed to the store and the second has reached the server,
    which never answers it: a process that exits at all was interrupted."""
    import signal

    scripted.set_script({"rules": [{"match": "Show me", "responses": [GOOD]}, {"responses": [{**GOOD, "delay": FOREVER}]}]})
    path = _write(tmp_path, klarna_request(base_url=scripted.base_url, cache=False))
    out = tmp_path / "partial.json"
    proc = subprocess.Popen([sys.executable, "-m", "permutate_nb.cli", "run", str(path), "--quiet", "--output", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=sigint_as_default)
    try:
        wait_until(lambda: committed_runs(permutate_home / "jobs.sqlite") == 1 and len(scripted.requests) >= 2,
                   what="one run committed and the other in flight")
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=DEADLINE)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "CANCELLED: 1 of 2 runs" in stdout and "Traceback" not in stderr
    data = json.loads(out.read_text())
    assert data["status"] == "CANCELLED" and [d["test_case_name"] for d in data["details"]] == ["shirts"]


def test_validate_needs_no_api_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    path = _write(tmp_path, klarna_request())
    assert main(["validate", str(path)]) == 0
    assert main(["run", str(path), "--quiet"]) == 2
    assert "no API key" in capsys.readouterr().err
