"""``permutate bfcl`` on BFCL's multi-turn categories: conversations over BFCL's own backends, scored as
BFCL's ``multi_turn_checker`` scores them.

The model is the scripted OpenAI-compatible server answering each turn (matched on its user
message) with a candidate trajectory's steps; each run's verdict must equal BFCL's checker on the
trajectory the row's transcript records, and the trajectory must be the one scripted.
"""

from __future__ import annotations

import importlib.util
import re
from typing import Any

import pytest

import permutate_nb as pn
from permutate_nb.cli import main
from permutate_nb.core.jobs.bfcl_conversation import (
    ADDED_FUNCTIONS_PROMPT,
    conversation_case,
    read_multi_turn_entries,
    turns_of,
)
from permutate_nb.testing.bfcl_multi_turn import (
    bfcl_multi_turn_verdict,
    calls_of,
    load_multi_turn_checker,
    scripted_rules,
    trajectories,
)

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("bfcl_eval") is None or importlib.util.find_spec("mpmath") is None,
    reason="needs bfcl-eval and mpmath (pip install --no-deps bfcl-eval==2026.3.23 mpmath)")


def _trajectory(entry: dict[str, Any], kind: str) -> list[list[Any]]:
    return next(c["turns"] for c in trajectories(entry) if c["kind"] == kind)


def test_bfcl_multi_turn_base_gives_bfcls_verdicts(scripted: Any, capsys: pytest.CaptureFixture[str]) -> None:
    entries = read_multi_turn_entries("multi_turn_base", limit=3)
    chosen = {entries[0]["id"]: "right", entries[1]["id"]: "right_stepwise", entries[2]["id"]: "wrong_argument"}
    played = {e["id"]: _trajectory(e, chosen[e["id"]]) for e in entries}
    scripted.set_script({"rules": [r for e in entries for r in scripted_rules(e, played[e["id"]])],
                         "default": {"text": "unscripted"}})
    code = main(["bfcl", "--category", "multi_turn_base", "--model", "scripted-model", "--base-url", scripted.base_url,
                 "--limit", "3", "--quiet", "--no-cache"])
    out = capsys.readouterr().out
    assert code == 0
    assert re.search(r"\n  multi_turn_base +3 +66\.7% \[20\.8, 93\.8\]\n", out), out
    assert "BFCL summary: multi_turn 66.7%, overall 66.7%" in out
    job_id = re.search(r"job id: (\S+)", out).group(1)  # type: ignore[union-attr]
    rows = {row.test_case_name: row for row in pn.results(job_id).details}
    bfcl = load_multi_turn_checker()
    assert bfcl is not None
    for entry in entries:
        row = rows[entry["id"]]
        recorded = turns_of(row.transcript)
        assert calls_of(recorded) == calls_of(played[entry["id"]])  # the scripted trajectory, as the row keeps it
        expected = chosen[entry["id"]] != "wrong_argument"
        assert row.passed is expected
        assert bfcl_multi_turn_verdict(bfcl, entry, recorded)[0] is expected
    wrong = rows[entries[2]["id"]]
    assert wrong.reason.startswith("end state: multi_turn:")
    assert wrong.end_state["passed"] is False
    # the model read BFCL's own result texts (mkdir returns None: BFCL hands on "None")
    tool = next(m for m in rows[entries[0]["id"]].transcript if m["role"] == "tool" and m["name"] == "mkdir")
    assert tool["content"] == "None"


def test_miss_func_offers_held_out_functions_from_their_turn_and_weighs_multi_turn(scripted: Any) -> None:
    from permutate_nb.core.jobs.bfcl_suite import read_entries

    entry = read_multi_turn_entries("multi_turn_miss_func", limit=1)[0]
    (turn, docs), = entry["held_out"].items()  # multi_turn_miss_func_0: sort, from turn 3 on
    held = [d["name"] for d in docs]
    case_turn = conversation_case(entry)["turns"][turn]
    assert case_turn == {"user": ADDED_FUNCTIONS_PROMPT, "add_tools": held}  # BFCL's own words at that turn
    irrelevant = read_entries("irrelevance", limit=1)[0]
    scripted.set_script({"rules": [*scripted_rules(entry, _trajectory(entry, "right")),
                                   {"match": irrelevant["prompt"], "responses": [{"tool_call": "$first_tool"}]}],
                         "default": {"text": "unscripted"}})
    result = pn.bfcl("multi_turn_miss_func,irrelevance", ["scripted-model"], base_url=scripted.base_url, limit=1,
                     cache=False)
    row = next(r for r in result.details if r.test_case_name == entry["id"])
    bfcl = load_multi_turn_checker()
    assert bfcl is not None
    assert row.passed is True and bfcl_multi_turn_verdict(bfcl, entry, turns_of(row.transcript)) == (True, "")
    users = [t["user"] for t in conversation_case(entry)["turns"]]
    offered: dict[int, set[str]] = {}
    for request in scripted.requests:
        messages = request["json"]["messages"]
        last_user = [m["content"] for m in messages if m["role"] == "user"][-1]
        if last_user in users:
            names = {t["function"]["name"] for t in request["json"]["tools"]}
            offered.setdefault(users.index(last_user), set()).update(names)
    assert sorted(offered) == list(range(len(users)))
    assert all(not set(held) & offered[i] for i in range(turn))  # not offered before their turn
    assert all(set(held) <= offered[i] for i in range(turn, len(users)))  # offered from it on
    scores = result.report["scripted-model"]
    assert (scores["multi_turn"], scores["irrelevance"]) == (100.0, 0.0)
    assert scores["overall"] == 75.0  # BFCL's weights: irrelevance 10, multi-turn 30


def test_a_backend_that_does_not_import_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "mpmath", None)  # as after pip install --no-deps bfcl-eval
    monkeypatch.delitem(sys.modules, "bfcl_eval.eval_checker.multi_turn_eval.func_source_code.math_api", raising=False)
    first_with_math = next(i for i, e in enumerate(read_multi_turn_entries("multi_turn_base"))
                           if "MathAPI" in e["involved_classes"])
    assert main(["bfcl", "--categories", "multi_turn_base", "--model", "m", "--limit", str(first_with_math + 1),
                 "--quiet"]) == 2
    assert capsys.readouterr().err == ("permutate: error: BFCL's MathAPI backend does not import: import of mpmath "
                                       "halted; None in sys.modules (pip install mpmath)\n")
