"""``parameter_matching: bfcl`` gives BFCL's own verdicts, through the real pipeline, on every single-turn category.

tests/data/bfcl/sample.json holds the first 30 cases (all, where a category has fewer) of each of
BFCL's 13 single-turn categories, each with candidate answers of every kind (right, alternative,
reformatted, wrong, mistyped, missing, null, extra parameters, reordered / missing / extra parallel
calls, a wrong function, malformed arguments, no call where calls were wanted, a call where none
was wanted) and the verdict BFCL gave each (see NOTICE.md there for the command). Here each
candidate runs through a ``BfclJob`` whose model is the scripted OpenAI-compatible server answering
with the candidate's tool calls; the scored row's ``passed`` must equal BFCL's verdict. With
``bfcl-eval`` installed, BFCL's verdicts are computed afresh by its checker and must equal the
committed ones (so the sample cannot drift from the checker it claims to follow).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from permutate_nb.core.jobs.bfcl_suite import CATEGORIES
from permutate_nb.testing.bfcl import bfcl_verdict, load_checker, pipeline_verdicts

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "bfcl" / "sample.json"
KINDS = {"right", "alternative", "reformatted", "wrong", "mistyped", "missing", "null", "extra", "reordered",
         "missing_call", "extra_call", "wrong_function", "malformed", "none_wanted", "no_call", "call", "call_empty"}


@pytest.fixture(scope="module")
def cases() -> list[dict[str, Any]]:
    return json.loads(SAMPLE.read_text(encoding="utf-8"))["cases"]


def test_the_sample_covers_every_category_and_kind(cases: list[dict[str, Any]]) -> None:
    per_category = Counter(case["category"] for case in cases)
    assert set(per_category) == set(CATEGORIES)
    assert all(n >= 30 for c, n in per_category.items() if c not in ("live_parallel", "live_parallel_multiple", "live_relevance"))
    assert {c: per_category[c] for c in ("live_parallel", "live_parallel_multiple", "live_relevance")} == {
        "live_parallel": 16, "live_parallel_multiple": 24, "live_relevance": 16}  # BFCL has no more
    kinds = {cand["kind"] for case in cases for cand in case["candidates"]}
    assert kinds >= KINDS
    # no walkover: in every category BFCL accepts some candidates and refuses others
    for category in CATEGORIES:
        verdicts = [c["bfcl_valid"] for case in cases if case["category"] == category for c in case["candidates"]]
        assert 0 < sum(verdicts) < len(verdicts), category


def test_committed_verdicts_are_bfcls_own(cases: list[dict[str, Any]]) -> None:
    checker = load_checker()
    if checker is None:
        pytest.skip("bfcl-eval is not installed (pip install --no-deps bfcl-eval==2026.3.23): committed verdicts only")
    drift = [(case["id"], i, cand["kind"]) for case in cases for i, cand in enumerate(case["candidates"])
             if bfcl_verdict(checker, case, cand["calls"]) != (cand["bfcl_valid"], cand["bfcl_error_type"])]
    assert drift == []


def test_bfcl_mode_agrees_with_bfcl_on_every_candidate(cases: list[dict[str, Any]], scripted: Any, tmp_path: Path) -> None:
    rows = pipeline_verdicts(cases, scripted, folder=tmp_path)

    assert len(rows) == sum(len(case["candidates"]) for case in cases)
    assert all(row.is_run_completed for row in rows.values())
    disagreements = [(case["id"], cand["kind"], cand["bfcl_valid"], rows[f"{case['id']}~{i}"].parameter_mismatches)
                     for case in cases for i, cand in enumerate(case["candidates"])
                     if rows[f"{case['id']}~{i}"].passed != cand["bfcl_valid"]]
    assert disagreements == []
    # the rows show every call: a reordered parallel answer pairs each expected call with the call that fits it
    case = next(c for c in cases if c["category"] == "parallel")
    i = next(i for i, cand in enumerate(case["candidates"]) if cand["kind"] == "reordered")
    row = rows[f"{case['id']}~{i}"]
    n = len(case["ground_truth"])
    assert row.passed and len(row.calls_made) == len(row.calls_expected) == n
    assert sorted(p["made"] for p in row.call_pairings) == list(range(n))
    assert [p["made"] for p in row.call_pairings] == list(reversed(range(n)))
