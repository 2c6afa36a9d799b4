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

from .helpers import DEADLINE, klarna_request

CONTROL = "".join(chr(c) for c in range(32))
REPLY = f"start{CONTROL}end"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "permutate_nb.cli", *args], capture_output=True, text=True,
                          timeout=DEADLINE, env=dict(os.environ))


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


def _on_a_terminal(*args: str) -> tuple[int, str, str]:
    """``permutate ARGS`` with stderr on a pseudo-terminal (as a person at a shell sees it): exit code, stdout,
    and what reached the terminal."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a new pty is 0 columns wide
    proc = subprocess.Popen([sys.executable, "-m", "permutate_nb.cli", *args], stdout=subprocess.PIPE,
                            stderr=slave, text=True, env=dict(os.environ))
    os.close(slave)
    chunks = []
    while True:  # until the process closes its end (EIO on Linux)
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    stdout, _ = proc.communicate(timeout=DEADLINE)
    return proc.returncode, stdout, b"".join(chunks).decode().replace("\r\n", "\n")


def test_the_stages_before_the_first_result_are_named_on_a_terminal(scripted: Any, tmp_path: Path) -> None:
    """Reading plugins and translating, each on its own stderr line as it begins, before the bar; --quiet
    prints none of them."""
    scripted.set_script({"rules": [{"match": "Translate", "responses": [{"text": "Muéstrame camisetas"}]}],
                         "default": {"text": "no tool"}})
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(klarna_request(base_url=scripted.base_url, auto_translate_to_languages=["Spanish"])))
    code, stdout, terminal = _on_a_terminal("run", str(path), "--no-cache")
    assert code == 0, terminal
    stages = [line for line in terminal.splitlines() if line.startswith("permutate: ")]
    assert [re.sub(r"^permutate: \d+\.\d s  ", "", line) for line in stages] == [
        "reading plugins 1 plugin…", "translating 2 prompts…"], terminal
    assert terminal.index("translating") < terminal.index("klarna_test")  # before the bar
    assert "translating" not in stdout
    code, _, terminal = _on_a_terminal("run", str(path), "--no-cache", "--quiet")
    assert code == 0 and terminal == "", terminal


def test_on_a_pipe_each_stage_is_a_plain_line_as_it_ends_with_its_duration(scripted: Any, tmp_path: Path) -> None:
    """stderr is a pipe (a CI log): one line per stage with the seconds it took, before the bar; --quiet
    prints none of them."""
    scripted.set_script({"rules": [{"match": "Translate", "responses": [{"text": "Muéstrame camisetas"}]}],
                         "default": {"text": "no tool"}})
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(klarna_request(base_url=scripted.base_url, auto_translate_to_languages=["Spanish"])))
    piped = _cli("run", str(path), "--no-cache")
    assert piped.returncode == 0, piped.stderr
    lines = piped.stderr.splitlines()
    assert re.fullmatch(r"permutate: reading plugins 1 plugin: \d+\.\d s", lines[0]), piped.stderr
    assert re.fullmatch(r"permutate: translating 2 prompts: \d+\.\d s", lines[1]), piped.stderr
    assert sum(line.startswith("permutate: ") for line in lines) == 2
    assert piped.stderr.index("translating") < piped.stderr.index("klarna_test")  # then the bar
    quiet = _cli("run", str(path), "--no-cache", "--quiet")
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
