"""Repeats, intervals and paired comparisons on real jobs against the scripted server.

With ``concurrency: 1`` the runs call the server in matrix order (permutation, test case,
language, repeat), so a rule's response list decides each run's outcome.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

import permutate_nb as pn
from permutate_nb.cli import main, print_summary
from permutate_nb.core.jobs.comparing import compare_jobs
from permutate_nb.core.stats.compare import MCNEMAR, SIGN_TEST, pairwise
from permutate_nb.errors import RequestError
from permutate_nb.notebook.view import render_html, render_text

from ..helpers import PRODUCTS_URL, klarna_request
from .test_engine import assert_summary_honest

GOOD = {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}}
BAD = {"text": "no tool for that"}


def _two_permutations(server: Any, show_me: list[dict[str, Any]], repeats: int = 1) -> pn.JobResult:
    """p1 and p2 on shirts and shirts_params (always right); ``show_me`` scripts shirts' runs in the order they
    run: interleaved, so per repeat p1's run then p2's."""
    server.set_script({"rules": [{"match": "Show me", "responses": show_me}, {"responses": [GOOD]}]})
    request = klarna_request(base_url=server.base_url, repeats=repeats, cache=False, concurrency=1)
    request["permutations"].append({**request["permutations"][0], "name": "p2"})
    return pn.run(request)


def _many_cases(server: Any, responses: list[dict[str, Any]], cases: int = 6) -> pn.JobResult:
    """One permutation, ``cases`` plugin_selector test cases answered by ``responses`` in order."""
    server.set_script({"rules": [{"responses": responses}]})
    request = klarna_request(base_url=server.base_url, cache=False, concurrency=1)
    template = request["test_cases"][0]
    request["test_cases"] = [{**template, "name": f"case{i}", "prompt": f"Show me shirts, request {i}"} for i in range(cases)]
    return pn.run(request)


def test_repeats_pass_at_k_pass_hat_k_and_flaky_cases(scripted: Any) -> None:
    # runs interleave (repeat 0: p1, p2; repeat 1: p1, p2; ...): p1 shirts pass, pass, fail (2 of 3); p2 shirts
    # fail x3; shirts_params always passes
    result = _two_permutations(scripted, [GOOD, BAD, GOOD, BAD], repeats=3)
    by_cell = {(c["permutation_name"], c["test_case_name"]): c for c in pn.core.stats.repeats.repeat_table(result.details)}
    flaky = by_cell["p1", "shirts"]
    assert (flaky["repeats"], flaky["passes"], flaky["pass_rate"], flaky["flaky"]) == (3, 2, 66.67, True)
    # n=3, c=2: pass@2 = 1 - C(1,2)/C(3,2) = 1; pass^2 = C(2,2)/C(3,2) = 1/3; pass^3 = 0
    assert flaky["pass_at_k"] == {"1": 66.67, "2": 100.0, "3": 100.0}
    assert flaky["pass_hat_k"] == {"1": 66.67, "2": 33.33, "3": 0.0}
    assert by_cell["p2", "shirts"]["pass_at_k"] == {"1": 0.0, "2": 0.0, "3": 0.0} and not by_cell["p2", "shirts"]["flaky"]
    s = result.summary
    # means over the 4 cells: pass@2 (1 + 1 + 0 + 1) / 4; pass^2 (1/3 + 1 + 0 + 1) / 4
    assert s["pass_at_k"] == {"1": 66.67, "2": 75.0, "3": 75.0}
    assert s["pass_hat_k"] == {"1": 66.67, "2": 58.33, "3": 50.0}
    assert s["flaky_cases"] == [{"permutation_name": "p1", "test_case_name": "shirts", "language": "English",
                                 "passes": 2, "repeats": 3}]
    assert result.summary_by("permutation_name")["p2"]["flaky_cases"] == []
    assert_summary_honest(result)  # every new figure recomputed from the rows, per permutation, language, case
    frame = result.repeats_df.set_index(["permutation_name", "test_case_name"])
    assert frame.loc[("p1", "shirts"), ["pass@2", "pass^2", "pass_rate_ci_low", "flaky"]].tolist() == [100.0, 33.33, 20.77, True]
    assert len(frame) == 4 and not frame.loc[("p2", "shirts"), "flaky"]
    html = render_html(result)
    assert "Flaky cases" in html and "permutate-comparison" in html


def test_intervals_on_every_summary(scripted: Any) -> None:
    result = _two_permutations(scripted, [GOOD, BAD])  # p1: 2 of 2, p2: 1 of 2
    data = result.to_dict()
    assert data["summary"]["overall_accuracy"] == 75.0 and data["summary"]["overall_accuracy_ci"] == [30.06, 95.44]
    assert data["summary_by_permutation"]["p2"]["overall_accuracy_ci"] == [9.45, 90.55]  # 1 of 2
    assert data["summary_by_language"]["English"]["accuracy_step_b_ci"] == [30.06, 95.44]
    shirts = data["summary_by_test_case"]["shirts"]
    assert (shirts["passed_cases"], shirts["total_test_cases"], shirts["accuracy_step_c_ci"]) == (1, 2, None)
    assert data["summary_by_test_case"]["shirts_params"]["accuracy_step_c_ci"] == [34.24, 100.0]  # 2 of 2
    assert_summary_honest(result)
    html = render_html(result)  # the permutation table and the bars print each accuracy with its interval
    assert "75.0% [30.1, 95.4]" in html and html.count("50.0% [9.4, 90.5]") == 5  # p2: overall, a, b, bar, comparison
    assert "Flaky cases" not in html  # no repeats, nothing flaky


def test_compare_within_a_job_without_repeats(scripted: Any) -> None:
    result = _two_permutations(scripted, [GOOD, BAD])
    c = result.compare("p1", "p2")
    assert (c.pairs, c.accuracy_a, c.accuracy_b, c.difference, c.method) == (2, 100.0, 50.0, -50.0, MCNEMAR)
    assert c.p_value == 1.0 and (c.better_a, c.better_b) == (1, 0)
    assert c.difference_ci[0] < -50.0 < c.difference_ci[1] and c.difference_ci[1] > 0  # 2 pairs prove nothing
    assert c.pass_to_fail == [{"test_case_name": "shirts", "language": "English", "repeat": 0}]
    assert "p2 vs p1" in str(c) and "McNemar exact" in c._repr_html_()
    same = result.compare("p1", "p1")
    assert (same.difference, same.p_value, same.pass_to_fail) == (0.0, 1.0, [])
    assert same.difference_ci == [-65.76, 65.76]  # no discordant pair, but 2 pairs leave room: Newcombe, phi = 0
    with pytest.raises(RequestError, match="no permutation 'p3' in this job; it has 'p1', 'p2'"):
        result.compare("p1", "p3")
    assert "paired comparison" in render_text(result)


def test_compare_within_a_job_with_repeats_uses_sign_test(scripted: Any) -> None:
    result = _two_permutations(scripted, [GOOD, BAD, GOOD, BAD], repeats=3)
    c = result.compare("p1", "p2")
    # units: shirts (2/3 -> 0/3: -2/3; p1 passed repeats 0 and 1), shirts_params (3/3 -> 3/3: 0); mean -1/3
    assert (c.method, c.pairs, c.difference, c.better_a, c.better_b) == (SIGN_TEST, 6, -33.33, 1, 0)
    # t interval of the 2 per-case differences: -1/3 +- 12.706 * .4714 / sqrt(2), clipped to [-100, 100]
    assert c.p_value == 1.0 and c.difference_ci == [-100.0, 100.0]
    assert [r["repeat"] for r in c.pass_to_fail] == [0, 1]


def test_compare_jobs_flags_a_significant_regression(scripted: Any) -> None:
    baseline = _many_cases(scripted, [GOOD])
    candidate = _many_cases(scripted, [GOOD, GOOD, BAD])  # case0, case1 pass; case2..5 fail
    comparison = pn.compare(baseline, candidate)
    c = comparison.permutations["p1"]
    assert (c.accuracy_a, c.accuracy_b, c.difference, c.better_a) == (100.0, 33.33, -66.67, 4)
    assert c.p_value == pytest.approx(2 / 16)  # McNemar 4 vs 0: 2 * 1/2^4, not significant
    assert comparison.worse(0) == []
    worse = _many_cases(scripted, [BAD])
    c = compare_jobs(baseline, worse).permutations["p1"]
    assert c.p_value == pytest.approx(2 / 64) and c.difference == -100.0
    assert compare_jobs(baseline, worse).worse(10) == ["p1"] and compare_jobs(baseline, worse).worse(100) == []
    many = compare_jobs(_many_cases(scripted, [GOOD], cases=12), _many_cases(scripted, [BAD], cases=12))
    assert str(many).endswith("case9 (English, repeat 0), ... and 2 more")
    assert len(many.permutations["p1"].pass_to_fail) == 12


def test_cli_compare_gate(scripted: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    baseline = _many_cases(scripted, [GOOD])
    worse = _many_cases(scripted, [BAD])
    baseline.to_json(tmp_path / "baseline.json")
    # a job id from the store against a result file
    assert main(["compare", baseline.job_id, str(tmp_path / "baseline.json"), "--fail-if-worse", "0"]) == 0
    out = capsys.readouterr().out
    assert "+0.0 pts" in out and "pass -> fail" in out
    assert main(["compare", str(tmp_path / "baseline.json"), worse.job_id, "--fail-if-worse", "5"]) == 1
    captured = capsys.readouterr()
    assert "p1: pass -> fail: case0 (English, repeat 0)" in captured.out
    assert "p1 is 100.0 points worse (p = 0.031), more than --fail-if-worse 5" in captured.err
    assert f"baseline klarna_test-1.0.0-{worse.job_name[-10:]} (baseline.json) → candidate {worse.job_name} ({worse.job_id})" \
        in captured.out  # in the order given, each with its name and its id (or file)
    assert "candidate - baseline" in captured.out
    assert main(["compare", baseline.job_id, worse.job_id]) == 0  # no gate without --fail-if-worse
    capsys.readouterr()
    assert main(["compare", baseline.job_id, "nosuchjob"]) == 2
    assert "no job 'nosuchjob'" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("{}")
    assert main(["compare", str(tmp_path / "bad.json"), baseline.job_id]) == 2
    assert "not a permutate result file" in capsys.readouterr().err


def test_compare_of_a_job_with_itself_reports_no_difference(scripted: Any) -> None:
    result = _two_permutations(scripted, [GOOD, BAD, BAD, GOOD], repeats=2)
    comparison = pn.compare(result, result.job_id)
    assert list(comparison.permutations) == ["p1", "p2"] and comparison.missing == []
    for c in comparison.permutations.values():
        assert (c.difference, c.difference_ci, c.p_value, c.pass_to_fail, c.unpaired) == (0.0, [0.0, 0.0], 1.0, [], 0)
    assert comparison.worse(0) == []


def test_xlsx_flaky_and_comparison_sheets(scripted: Any, tmp_path: Path) -> None:
    result = _two_permutations(scripted, [GOOD, BAD, GOOD, BAD], repeats=3)
    wb = load_workbook(result.to_excel(tmp_path / "r.xlsx"))
    assert wb.sheetnames == ["Summary", "Permutations", "Details", "Request", "Flaky", "Comparison"]
    summary = {h.value: v.value for h, v in zip(wb["Summary"][1], wb["Summary"][2])}
    assert summary["overall_accuracy_ci_low"] == pytest.approx(0.3906)
    assert wb["Summary"].cell(row=2, column=[c.value for c in wb["Summary"][1]].index("overall_accuracy_ci_high") + 1).number_format == "0.00%"
    assert (summary["pass@2"], summary["pass^3"], summary["flaky_cases"]) == (0.75, 0.5, 1)  # fractions shown as %
    perms = [[c.value for c in row] for row in wb["Permutations"].iter_rows()]
    assert "accuracy_step_c_ci_low" in perms[0]
    flaky = [[c.value for c in row] for row in wb["Flaky"].iter_rows()]
    assert flaky[0][:6] == ["permutation_name", "test_case_name", "language", "repeats", "passes", "pass_rate"]
    assert flaky[1][:5] == ["p1", "shirts", "English", 3, 2] and len(flaky) == 2
    comparison = {h.value: v.value for h, v in zip(wb["Comparison"][1], wb["Comparison"][2])}
    assert (comparison["a"], comparison["b"], comparison["difference"], comparison["method"]) == ("p1", "p2", -0.3333, SIGN_TEST)
    assert comparison["p_adjusted"] == 1.0
    one = _many_cases(scripted, [GOOD], cases=2)
    assert load_workbook(one.to_excel(tmp_path / "one.xlsx")).sheetnames == ["Summary", "Permutations", "Details", "Request"]
    assert json.loads(json.dumps(result.to_dict()))["summary"]["flaky_cases"][0]["passes"] == 2
    assert PRODUCTS_URL in {d.plugin_operation for d in result.details}


def test_cli_table_prints_intervals(scripted: Any) -> None:
    result = _many_cases(scripted, [GOOD] * 5 + [BAD], cases=8)  # 5 of 8 pass
    stream = io.StringIO()
    print_summary(result, stream)
    assert "62.5% [30.6, 86.3]" in stream.getvalue()


def test_pairs_without_shared_runs_are_left_out(scripted: Any) -> None:
    result = _two_permutations(scripted, [GOOD])
    # as a job cancelled early might leave it: p1 ran only shirts, p2 only shirts_params
    result.details = [d for d in result.details if (d.permutation_name, d.test_case_name) in {("p1", "shirts"), ("p2", "shirts_params")}]
    assert pairwise(result.details) == []
    assert "permutate-comparison" not in render_html(result) and "paired comparison" not in render_text(result)
    with pytest.raises(RequestError, match="p1 and p2 share no runs"):
        result.compare("p1", "p2")
