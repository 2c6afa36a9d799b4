"""Writing a job's output never costs the job: the id comes first, a failed write says how to get it again,
and XLSX survives any text a model answers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from openpyxl import load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from .helpers import klarna_request

CONTROL = "".join(chr(c) for c in range(32))
REPLY = f"start{CONTROL}end"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "permutate_nb.cli", *args], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ))


def _job(tmp_path: Path, scripted: Any) -> Path:
    scripted.set_script({"rules": [{"responses": [{"text": REPLY}]}]})
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(klarna_request(base_url=scripted.base_url)))
    return path


def test_control_characters_reach_xlsx_stripped_and_noted(scripted: Any, tmp_path: Path) -> None:
    out = tmp_path / "out.xlsx"
    proc = _cli("run", str(_job(tmp_path, scripted)), "--quiet", "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    sheet = load_workbook(out)["Details"]
    header = [c.value for c in sheet[1]]
    cell = sheet.cell(row=2, column=header.index("raw_response") + 1)
    # XML stores a carriage return as a line end: read back, \r is \n
    assert cell.value == ILLEGAL_CHARACTERS_RE.sub("", REPLY).replace("\r", "\n")
    assert cell.value.startswith("start") and "\t\n" in cell.value and cell.value.endswith("end")
    assert "29 control character(s) removed" in cell.comment.text


def test_a_failed_write_keeps_the_job_and_says_how_to_get_it(scripted: Any, tmp_path: Path) -> None:
    unwritable = "/proc/self/result.json"  # the folder exists; nobody, not even root, can create a file there
    proc = _cli("run", str(_job(tmp_path, scripted)), "--quiet", "--output", unwritable)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    job_id = re.search(r"job id: (\S+)", proc.stdout).group(1)
    assert proc.stderr.strip() == (f"permutate: error: could not write {unwritable}: No such file or directory; "
                                   f"the result is stored: permutate results {job_id} --output FILE")
    again = tmp_path / "again.json"
    assert _cli("results", job_id, "--output", str(again)).returncode == 0
    assert len(json.loads(again.read_text())["details"]) == 2
