"""``permutate bfcl`` and ``pn.bfcl``: BFCL's own cases from the installed bfcl-eval, scored as BFCL does."""

from __future__ import annotations

import importlib.util
import re
from typing import Any

import pytest

import permutate_nb as pn
from permutate_nb.cli import main
from permutate_nb.core.jobs import bfcl_suite
from permutate_nb.testing.bfcl import tool_name

needs_bfcl = pytest.mark.skipif(importlib.util.find_spec("bfcl_eval") is None,
                                reason="bfcl-eval is not installed (pip install --no-deps bfcl-eval==2026.3.23)")


def test_an_unknown_category_lists_the_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bfcl", "--categories", "simple_python,simple_rust", "--model", "m", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("permutate: error: unknown BFCL category 'simple_rust'; valid categories: simple_python, ")
    assert err.count("\n") == 1 and "live_relevance" in err


def test_without_bfcl_eval_one_line_gives_the_pip_command(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(bfcl_suite.importlib.util, "find_spec", lambda name, *a: None if name == "bfcl_eval" else real(name, *a))
    assert main(["bfcl", "--categories", "simple_python", "--model", "m", "--quiet"]) == 2
    assert capsys.readouterr().err == ("permutate: error: bfcl-eval is not installed: run  "
                                       "pip install --no-deps bfcl-eval==2026.3.23\n")


@needs_bfcl
def test_bfcl_runs_categories_and_prints_bfcls_scores(scripted: Any, capsys: pytest.CaptureFixture[str]) -> None:
    first = bfcl_suite.read_entries("simple_python", limit=1)[0]
    (function, answer), = first["ground_truth"][0].items()
    right = {p: next(v for v in values if v != "") for p, values in answer.items() if any(v != "" for v in values)}
    # the first simple_python case answered right, everything else with text: 1/3 there, 3/3 on irrelevance
    scripted.set_script({"rules": [{"match": first["prompt"], "responses": [
        {"tool_call": {"name": tool_name(function), "arguments": right}}]}], "default": {"text": "No function fits."}})
    code = main(["bfcl", "--categories", "simple_python,irrelevance", "--model", "scripted-model",
                 "--base-url", scripted.base_url, "--limit", "3", "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    assert re.search(r"\n  simple_python +3 +33\.3% \[6\.2, 79\.2\]\n", out), out
    assert re.search(r"\n  irrelevance +3 +100\.0% \[43\.9, 100\.0\]\n", out), out
    assert "BFCL summary: non_live 33.3%, irrelevance 100.0%, overall 66.7%" in out  # the one percentage format
    assert "latency mean" in out and "job id: " in out
    # the tools offered were the case's own, under BFCL's names
    offered = [r["json"]["tools"] for r in scripted.requests if first["prompt"] in str(r["json"]["messages"])]
    assert [[t["function"]["name"] for t in tools] for tools in offered] == [[tool_name(function)]]


@needs_bfcl
def test_pn_bfcl_in_a_notebook_stores_and_compares_models(scripted: Any) -> None:
    scripted.set_script({"default": {"text": "No function fits."}})
    result = pn.bfcl("irrelevance,simple_javascript", ["scripted-model", "scripted-model-2"], base_url=scripted.base_url,
                     limit=2)
    report = result.report
    assert set(report) == {"scripted-model", "scripted-model-2"}
    figures = report["scripted-model"]
    assert figures["categories"]["irrelevance"]["accuracy"] == 100.0
    assert figures["categories"]["simple_javascript"]["accuracy"] == 0.0
    assert (figures["simple_ast"], figures["non_live"], figures["overall"]) == (0.0, 0.0, 50.0)
    assert [r["category"] for r in result.table()][:2] == ["simple_javascript", "irrelevance"]
    assert result.pairwise()[0].pairs == 4
    stored = pn.results(result.job_id)  # the store gives the same scores back
    assert isinstance(stored, pn.BfclResult) and stored.report == report
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    bars = result.plot().axes[0].patches  # one bar per model and category
    assert sorted(round(b.get_height(), 1) for b in bars) == [0.0, 0.0, 100.0, 100.0]
    assert "<table" in result._repr_html_()
    resumed = pn.resume(result.job_id)  # a finished job: nothing left to run, the same result
    assert isinstance(resumed, pn.BfclResult) and resumed.report == report and len(scripted.requests) == 8
