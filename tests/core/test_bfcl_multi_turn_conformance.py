"""``core.scoring.bfcl_multi_turn`` gives the verdicts of BFCL's ``multi_turn_checker``.

tests/data/bfcl/multi_turn_sample.json holds candidate trajectories (right, one call per step, wrong
call, wrong argument, missing step, extra harmless step, wrong end state, reordered, empty turn,
malformed step, a call in a turn BFCL expects to fail, cut short, a method call's text inside an
argument) for the first 3 entries of each of BFCL's 4 multi-turn categories, with the verdict and
error type BFCL gave each (see NOTICE.md there for the command). The entries themselves (and the
backends that run them) come from the installed ``bfcl-eval``. Our checker must give every one of
BFCL's verdicts and error types; BFCL's verdicts are recomputed by its checker and must equal the
committed ones (so the sample cannot drift from the checker it claims to follow).
"""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from permutate_nb.core.jobs.bfcl_conversation import MULTI_TURN_CATEGORIES, read_multi_turn_entries
from permutate_nb.core.scoring.bfcl_multi_turn import Backends, check_multi_turn

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "bfcl" / "multi_turn_sample.json"
KINDS = {"right", "right_stepwise", "wrong_call", "wrong_argument", "missing_step", "extra_harmless_step",
         "wrong_end_state", "reordered", "empty_turn", "malformed_step", "cut_short", "call_in_failing_turn"}

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("bfcl_eval") is None or importlib.util.find_spec("mpmath") is None,
    reason="needs bfcl-eval and mpmath (pip install --no-deps bfcl-eval==2026.3.23 mpmath)")


@pytest.fixture(scope="module")
def sample() -> list[dict[str, Any]]:
    committed = json.loads(SAMPLE.read_text(encoding="utf-8"))["entries"]
    entries = {e["id"]: e for c in MULTI_TURN_CATEGORIES for e in read_multi_turn_entries(c, limit=3)}
    return [{**entries[item["id"]], "candidates": item["candidates"]} for item in committed]


def test_the_sample_covers_every_category_and_kind(sample: list[dict[str, Any]]) -> None:
    assert Counter(e["category"] for e in sample) == dict.fromkeys(MULTI_TURN_CATEGORIES, 3)
    assert {c["kind"] for e in sample for c in e["candidates"]} >= KINDS
    for category in MULTI_TURN_CATEGORIES:  # no walkover: BFCL accepts some candidates and refuses others
        verdicts = [c["bfcl_valid"] for e in sample if e["category"] == category for c in e["candidates"]]
        assert 0 < sum(verdicts) < len(verdicts), category
    errors = {c["bfcl_error_type"] for e in sample for c in e["candidates"]}
    assert errors >= {"", "multi_turn:force_terminated", "multi_turn:empty_turn_model_response",
                      "multi_turn:instance_state_mismatch", "multi_turn:execution_response_mismatch"}


def test_our_checker_gives_bfcls_verdict_on_every_candidate(sample: list[dict[str, Any]]) -> None:
    disagreements = []
    for entry in sample:
        for cand in entry["candidates"]:
            ours = check_multi_turn(entry, cand["turns"], entry["ground_truth"])
            if (ours.valid, ours.error_type) != (cand["bfcl_valid"], cand["bfcl_error_type"]):
                disagreements.append((entry["id"], cand["kind"], cand["bfcl_error_type"], ours.to_dict()))
    assert disagreements == []


def test_committed_verdicts_are_bfcls_own(sample: list[dict[str, Any]]) -> None:
    from permutate_nb.testing.bfcl_multi_turn import bfcl_multi_turn_verdict, load_multi_turn_checker

    bfcl = load_multi_turn_checker()
    assert bfcl is not None
    drift = [(e["id"], c["kind"]) for e in sample for c in e["candidates"]
             if bfcl_multi_turn_verdict(bfcl, e, c["turns"]) != (c["bfcl_valid"], c["bfcl_error_type"])]
    assert drift == []


def test_a_verdict_names_the_turn_and_what_differs(sample: list[dict[str, Any]]) -> None:
    entry = sample[0]  # multi_turn_base_0: the first turn makes a folder and moves a file into it
    turns: list[list[Any]] = [[[["cd", {"folder": "document"}], ["mkdir", {"dir_name": "temp"}]], "Done."]]
    turns += [[[c] for c in turn] or ["no call"] for turn in entry["ground_truth"][1:]]
    verdict = check_multi_turn(entry, turns, entry["ground_truth"])
    assert verdict.to_dict() == {"valid": False, "error_type": "multi_turn:instance_state_mismatch", "turn": 0,
                                 "reason": "turn 0: GorillaFileSystem state differs in root"}


def test_calls_are_interpreted_not_evaluated(sample: list[dict[str, Any]]) -> None:
    backends = Backends(sample[0], "model")
    results = backends.execute(["__import__('os').getcwd()", "pwd()", "exit()", "ls(a=len('x'))", "cd(folder=)"])
    assert results[0] == "Error during execution: not a backend method: __import__('os').getcwd"
    assert results[1] == '{"current_working_directory": "/workspace"}'
    assert results[2] == "Error during execution: Function call exit is not allowed."  # BFCL's refusal
    assert results[3] == "Error during execution: name 'len' is not defined"
    assert results[4] == "Error during execution: invalid syntax (<string>, line 1)"
