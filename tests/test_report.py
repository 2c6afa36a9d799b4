"""The shareable report as a file: ``result.write("x.html")`` and ``permutate report ID -o x.html``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import permutate_nb as pn
from permutate_nb.cli import main

from .helpers import PLANTED, mixed_request


def test_the_report_is_one_self_contained_file(scripted: Any, tmp_path: Path, capsys: Any) -> None:
    result = pn.run(mixed_request(scripted), cache=False)
    assert main(["report", result.job_id, "-o", str(tmp_path / "r.html")]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / 'r.html'}"
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.count("<script>") == 1 and PLANTED not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing loads from the network
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    for part in ("Needs attention: 2 of 3 runs, by reason", "Overall accuracy by permutation", "Tools offered",
                 "expected against actual", 'id="pn-search"'):
        assert part in page, part
    assert page.count('<details class="pn-row') == 3 + 3  # every run in the list; in the groups: q, size, errored
    assert result.write(tmp_path / "same.html").read_text(encoding="utf-8").count("pn-row") == page.count("pn-row")


def test_report_refuses_other_types_and_unknown_jobs(tmp_path: Path, capsys: Any) -> None:
    assert main(["report", "abc", "-o", str(tmp_path / "r.txt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown output type .txt; use .html" in err
    assert main(["report", "000000000000", "-o", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "000000000000" in err and not (tmp_path / "r.html").exists()
