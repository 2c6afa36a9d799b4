"""Conversation test cases end to end: a real scripted OpenAI-compatible server, the real runner and
SQLite store; tool results fed back (scripted, a backend, the executor), trajectory modes, end state."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

import permutate_nb as pn
from permutate_nb.core.conversation.backend import compare_state, load_backend, new_backend
from permutate_nb.core.conversation.trajectory import score_turn
from permutate_nb.core.plugins.tools import ToolSet
from permutate_nb.core.request.models import Turn
from permutate_nb.core.scoring.calls import Call

WEATHER = [{"type": "function", "function": {"name": name, "description": f"{name} of a city.", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
    for name in ("get_weather", "get_time")]
SHOP = "permutate_nb.examples.shopping:ShoppingList"
BANK = "tests.core.conversation_backends:Bank"


def request(base_url: str, *cases: dict[str, Any], **config: Any) -> dict[str, Any]:
    llm = {"provider": "OpenAIChat", "model_name": "m", "temperature": 0, "base_url": base_url}
    return {
        "name": "conversations", "config": {"cache": False, "max_retries": 0, **config},
        "plugin_groups": [{"name": "g", "plugins": [{"name": "weather", "functions": WEATHER}]}],
        "permutations": [{"name": "p", "llm": llm, "tool_selector": {"provider": "OpenAI", "plugin_group_name": "g"}}],
        "test_cases": [{"type": "conversation", **case} for case in cases],
    }


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def weather_case(**fields: Any) -> dict[str, Any]:
    return {"name": "weather", "turns": [
        {"user": "weather in Oslo and Rome?", "expected_calls": [
            {"api": "get_weather", "parameters": {"city": "Oslo"}}, {"api": "get_weather", "parameters": {"city": "Rome"}}]},
        {"user": "thanks, bye", "expect_no_call": True}], **fields}


def test_two_turns_with_scripted_results_feed_the_results_back_and_keep_the_transcript(scripted: Any) -> None:
    scripted.set_script({"rules": [
        {"match": "Oslo", "responses": [{"tool_calls": [call("get_weather", city="Oslo"), call("get_weather", city="Rome")]},
                                        {"text": "Oslo 3 C, Rome 18 C."}]},
        {"match": "bye", "responses": [{"text": "Bye!"}]}]})
    case = weather_case(tool_results={"get_weather": [{"temp": 3}, {"temp": 18}]})
    result = pn.run(request(scripted.base_url, case))
    (row,) = result.details
    assert row.passed and row.reason is None and row.is_run_completed, row.turns
    sent = [r["json"]["messages"] for r in scripted.requests]
    assert len(sent) == 3
    assert [m["role"] for m in sent[1]] == ["user", "assistant", "tool", "tool"]
    assert [m["content"] for m in sent[1][2:]] == ['{"temp": 3}', '{"temp": 18}']  # the list, in call order
    assert sent[1][2]["tool_call_id"] == sent[1][1]["tool_calls"][0]["id"]
    assert [m["role"] for m in sent[2]] == ["user", "assistant", "tool", "tool", "assistant", "user"]
    assert [m["role"] for m in row.transcript] == ["user", "assistant", "tool", "tool", "assistant", "user", "assistant"]
    assert row.transcript[1]["tool_calls"][1] == {"id": "call_1_1_2", "name": "get_weather", "arguments": {"city": "Rome"}}
    assert [t["verdict"] for t in row.turns] == [True, True]
    assert row.turns[0]["final_text"] == "Oslo 3 C, Rome 18 C." and row.final_output == "Bye!"
    assert result.summary["turn_accuracy"] == 100.0 and result.summary["conversation_turns"] == 2
    stored = pn.results(result.job_id).details[0]  # the real SQLite store keeps the transcript and turns
    assert stored.transcript == row.transcript and stored.turns == row.turns


def test_a_single_scripted_result_answers_every_call_and_a_short_list_runs_out(scripted: Any) -> None:
    scripted.set_script({"rules": [
        {"match": "Oslo", "responses": [{"tool_calls": [call("get_weather", city="Oslo"), call("get_time", city="Oslo")]},
                                        {"tool_call": call("get_weather", city="Oslo")}, {"text": "done"}]}]})
    case = {"name": "c", "turns": [{"user": "Oslo please"}], "tool_results": {"get_weather": "sunny", "get_time": ["noon"]}}
    (row,) = pn.run(request(scripted.base_url, case)).details
    tools = [m for m in row.transcript if m["role"] == "tool"]
    assert [(m["name"], m["content"]) for m in tools] == [("get_weather", "sunny"), ("get_time", "noon"), ("get_weather", "sunny")]
    assert row.passed  # a turn without expectations is not scored
    scripted.reset()
    scripted.set_script({"rules": [{"responses": [{"tool_call": call("get_time", city="A")},
                                                  {"tool_call": call("get_time", city="B")}, {"text": "ok"}]}]})
    (row,) = pn.run(request(scripted.base_url, case)).details
    tools = [m for m in row.transcript if m["role"] == "tool"]
    assert tools[1]["content"] == "Error: no scripted result left for get_time (tool_results gives 1)" and tools[1]["error"]


def _turn(mode: str, made: list[tuple[str, str]], expected: list[tuple[str, str]]) -> tuple[bool, list[str]]:
    toolset = ToolSet(tools=[], by_name={}, tools_json="[]", digest="")
    turn = Turn(user="u", expected_calls=[{"plugin": "weather", "api": api, "parameters": {"city": city}}
                                          for api, city in expected])
    calls = [Call(api, "weather", "weather", api, "", {"city": city}) for api, city in made]
    verdict = score_turn(turn, calls, toolset, trajectory=mode, mode="lenient", language="python")
    return verdict.verdict, verdict.mismatches


@pytest.mark.parametrize(("mode", "made", "passes"), [
    ("strict", ["w:Oslo", "t:Oslo"], True), ("strict", ["t:Oslo", "w:Oslo"], False),
    ("unordered", ["t:Oslo", "w:Oslo"], True), ("unordered", ["w:Oslo"], False),
    ("unordered", ["w:Oslo", "t:Oslo", "t:Rome"], False),
    ("subset", ["w:Oslo"], True), ("subset", ["t:Oslo", "w:Oslo"], True), ("subset", ["w:Rome"], False),
    ("subset", ["w:Oslo", "t:Oslo", "t:Rome"], False),
    ("superset", ["w:Oslo", "t:Oslo", "t:Rome"], True), ("superset", ["t:Oslo", "w:Oslo"], True),
    ("superset", ["w:Oslo"], False),
])
def test_each_trajectory_match_mode(mode: str, made: list[str], passes: bool) -> None:
    names = {"w": "get_weather", "t": "get_time"}
    calls = [(names[m[0]], m[2:]) for m in made]
    ok, mismatches = _turn(mode, calls, [("get_weather", "Oslo"), ("get_time", "Oslo")])
    assert ok is passes, mismatches
    assert bool(mismatches) is not passes


def test_mismatches_say_what_went_wrong_in_words() -> None:
    assert _turn("unordered", [("get_weather", "Oslo")], [("get_weather", "Oslo"), ("get_time", "Oslo")])[1] == [
        "missing call get_time"]
    assert _turn("unordered", [("get_weather", "Rome")], [("get_weather", "Oslo")])[1] == [
        "call get_weather: city: value (expected 'Oslo', got 'Rome')"]
    assert _turn("strict", [("get_time", "Oslo"), ("get_weather", "Oslo")],
                 [("get_weather", "Oslo"), ("get_time", "Oslo")])[1] == [
        "call 1: get_time instead of get_weather", "call 2: get_weather instead of get_time"]
    assert _turn("superset", [("get_time", "Oslo")], [("get_weather", "Oslo")])[1] == ["missing call get_weather"]
    assert _turn("subset", [("get_time", "Oslo")], [("get_weather", "Oslo")])[1] == ["extra call get_time"]


def test_a_wrong_turn_names_the_turn_and_the_run_goes_on(scripted: Any) -> None:
    scripted.set_script({"rules": [
        {"match": "Oslo", "responses": [{"tool_call": call("get_weather", city="Oslo")}, {"text": "3 C"}]},
        {"match": "bye", "responses": [{"tool_call": call("get_time", city="Oslo")}, {"text": "bye"}]}]})
    result = pn.run(request(scripted.base_url, weather_case(tool_results={"get_weather": "3 C", "get_time": "noon"})))
    (row,) = result.details
    assert not row.passed and row.is_run_completed
    assert row.reason == "turn 1: missing call get_weather"
    assert row.turns[1]["mismatches"] == ["unexpected call get_time"] and len(row.turns) == 2
    assert result.summary["overall_accuracy"] == 0.0 and result.summary["turn_accuracy"] == 0.0
    assert result.summary["conversation_runs"] == 1


def _shop_case(expected_items: list[str], **fields: Any) -> dict[str, Any]:
    return {"name": "shop", "backend": SHOP, "initial_config": {"items": ["bread"]},
            "expected_state": {"items": expected_items},
            "turns": [{"user": "add milk", "expected_calls": [{"api": "add_item", "parameters": {"item": "milk"}}]},
                      {"user": "remove cheese"}], **fields}


SHOP_SCRIPT = {"rules": [
    {"match": "milk", "responses": [{"tool_call": call("add_item", item="Milk")}, {"text": "Added."}]},
    {"match": "cheese", "responses": [{"tool_call": call("remove_item", item="cheese")}, {"text": "No cheese there."}]}]}


def test_a_backend_answers_the_calls_and_its_end_state_is_checked(scripted: Any) -> None:
    scripted.set_script(SHOP_SCRIPT)
    (row,) = pn.run(request(scripted.base_url, _shop_case(["bread", "milk"]))).details
    assert row.passed, (row.reason, row.turns)
    assert row.end_state == {"passed": True, "mismatches": [], "state": {"items": ["bread", "milk"]}}
    offered = [t["function"]["name"] for t in scripted.requests[0]["json"]["tools"]]
    assert offered == ["get_weather", "get_time", "add_item", "list_items", "remove_item"]
    add = next(t for t in scripted.requests[0]["json"]["tools"] if t["function"]["name"] == "add_item")
    assert add["function"]["parameters"]["required"] == ["item"] and "self" not in add["function"]["parameters"]["properties"]
    # the method raised: its error is the tool result the model read, and the conversation went on
    error = [m for m in row.transcript if m["role"] == "tool"][1]
    assert error["content"] == "Error: ValueError: cheese is not on the list" and error["error"] is True
    assert row.transcript[-1] == {"role": "assistant", "content": "No cheese there."}


def test_a_wrong_end_state_fails_the_run_with_its_reason(scripted: Any) -> None:
    scripted.set_script(SHOP_SCRIPT)
    (row,) = pn.run(request(scripted.base_url, _shop_case(["bread", "milk", "eggs"]))).details
    assert not row.passed and all(t["verdict"] for t in row.turns)
    assert row.reason.startswith("end state: items: value (expected ['bread', 'milk', 'eggs']")
    assert row.end_state["passed"] is False and row.end_state["state"] == {"items": ["bread", "milk"]}


def test_a_bfcl_style_backend_is_configured_by_load_scenario_and_fresh_per_run(scripted: Any) -> None:
    scripted.set_script({"rules": [{"responses": [
        {"tool_call": call("transfer", source="a", target="b", amount=5)}, {"text": "moved"}] * 2}]})
    case = {"name": "bank", "backend": BANK, "initial_config": {"balances": {"a": 10, "b": 0}},
            "expected_state": {"balances": {"a": 5, "b": 5}},
            "turns": [{"user": "move 5 from a to b", "expected_calls": [{"api": "transfer"}]}]}
    result = pn.run(request(scripted.base_url, case, repeats=2, concurrency=1))
    assert [row.passed for row in result.details] == [True, True]  # each repeat started from 10 / 0
    assert result.summary["pass_hat_k"] == {"1": 100.0, "2": 100.0} and result.summary["flaky_cases"] == []
    instance = new_backend(load_backend(BANK), {"balances": {"a": 1}})
    assert compare_state(instance, {"balances": {"a": 2}}) == ["balances.a: value (expected 2, got 1)"]


def test_max_steps_fails_the_run(scripted: Any) -> None:
    scripted.set_script({"default": {"tool_call": call("get_time", city="Oslo")}})
    case = {"name": "loop", "max_steps": 3, "tool_results": {"get_time": "noon"},
            "turns": [{"user": "time?"}, {"user": "never asked"}]}
    (row,) = pn.run(request(scripted.base_url, case)).details
    assert not row.passed and row.is_run_completed and row.reason == "max steps"
    assert len(scripted.requests) == 3 and len(row.turns) == 1
    assert row.turns[0]["mismatches"] == ["no text answer within max_steps=3 model calls"]


def test_repeats_give_pass_hat_k_and_flaky_conversations(scripted: Any) -> None:
    scripted.set_script({"rules": [{"responses": [
        {"tool_call": call("get_weather", city="Oslo")}, {"text": "3 C"},     # repeat 0: right
        {"tool_call": call("get_weather", city="Rome")}, {"text": "18 C"}]}]})  # repeat 1: wrong city
    case = {"name": "c", "tool_results": {"get_weather": "x"},
            "turns": [{"user": "Oslo?", "expected_calls": [{"api": "get_weather", "parameters": {"city": "Oslo"}}]}]}
    result = pn.run(request(scripted.base_url, case, repeats=2, concurrency=1))
    assert sorted(row.passed for row in result.details) == [False, True]
    assert result.summary["pass_hat_k"] == {"1": 50.0, "2": 0.0}  # C(1,2)/C(2,2) = 0
    assert result.summary["flaky_cases"] == [{"permutation_name": "p", "test_case_name": "c", "language": "English",
                                              "passes": 1, "repeats": 2}]
    # the CLI table and the notebook view show them beside the accuracy
    from permutate_nb.cli import print_summary
    from permutate_nb.notebook.view import render_html, render_text

    out = io.StringIO()
    print_summary(result, out)
    header, first, *rest = out.getvalue().splitlines()
    assert header.split()[:7] == ["permutation", "runs", "wrong", "errored", "overall", "turns", "pass^2"]
    assert first.split()[7:9] == ["50.0%", "0.0%"]  # after "50.0% [9.4, 90.5]"
    assert "flaky: c on p (English): 1 of 2 repeats passed" in rest
    text = render_text(result)
    assert "turn accuracy" in text and "pass^2" in text
    html = render_html(result)
    # the wrong run opens on its transcript, the wrong turn's call highlighted
    assert ('<div class="pn-msg pn-msg-assistant pn-step-bad"><b>assistant · tool call</b>'
            '<div>tool call: <code>get_weather({&quot;city&quot;: &quot;Rome&quot;})</code>') in html
    assert "Flaky cases" in html


def test_the_cache_key_holds_the_history(scripted: Any) -> None:
    scripted.set_script({"rules": [{"responses": [{"tool_call": call("get_weather", city="Oslo")}, {"text": "3 C"}]}]})
    case = {"name": "c", "tool_results": {"get_weather": "3 C"}, "turns": [{"user": "Oslo?"}]}
    first = pn.run(request(scripted.base_url, case, cache=True)).details[0]
    assert len(scripted.requests) == 2 and not first.cached
    again = pn.run(request(scripted.base_url, case, cache=True)).details[0]
    assert again.cached and again.transcript == first.transcript and len(scripted.requests) == 2
    changed = pn.run(request(scripted.base_url, {**case, "tool_results": {"get_weather": "9 C"}}, cache=True)).details[0]
    assert not changed.cached and len(scripted.requests) == 3  # same first message (cached), new history after it
    assert json.loads(json.dumps(changed.transcript))[2]["content"] == "9 C"


def test_executed_operations_answer_the_calls_over_http(scripted: Any) -> None:
    from permutate_nb.testing.plugin_api_server import PluginAPIServer
    from tests.helpers import klarna_request

    scripted.set_script({"rules": [{"responses": [
        {"tool_call": call("productsUsingGET", q="T shirt", size=2)}, {"text": "Here are two shirts."}]}]})
    with PluginAPIServer() as api:
        data = klarna_request(manifest=api.manifest_url, base_url=scripted.base_url, execute_operations=True, cache=False)
        data["test_cases"] = [{"name": "shop", "type": "conversation", "turns": [
            {"user": "two T shirts please", "expected_calls": [
                {"plugin": api.manifest_url, "api": api.products_url, "method": "get", "parameters": {"q": "T shirt"}}]}]}]
        (row,) = pn.run(data).details
        assert [r["query"] for r in api.requests if r["path"].endswith("/products")] == [{"q": "T shirt", "size": "2"}]
    assert row.passed, row.reason
    result = next(m for m in row.transcript if m["role"] == "tool")
    assert "products" in json.loads(result["content"]) and "error" not in result
    assert scripted.requests[1]["json"]["messages"][2]["content"] == result["content"]


def test_a_group_that_describes_backend_methods_is_the_offer(scripted: Any) -> None:
    scripted.set_script({"rules": [{"responses": [{"tool_call": call("add_item", item="milk")}, {"text": "ok"}]}]})
    data = request(scripted.base_url, {"name": "c", "backend": SHOP, "expected_state": {"items": ["milk"]},
                                       "turns": [{"user": "milk"}]})
    schema = {"name": "add_item", "description": "Add one item.",
              "parameters": {"type": "object", "properties": {"item": {"type": "string"}}}}
    data["plugin_groups"][0]["plugins"] = [{"name": "shop", "functions": [schema]}]
    (row,) = pn.run(data).details
    assert [t["function"]["name"] for t in scripted.requests[0]["json"]["tools"]] == ["add_item"]  # as written
    assert row.passed and row.end_state["state"] == {"items": ["milk"]}  # the call went to the backend


def test_conversation_rows_export(scripted: Any, tmp_path: Any) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    scripted.set_script(SHOP_SCRIPT)
    result = pn.run(request(scripted.base_url, _shop_case(["bread", "milk"])))
    (row,) = result.details
    table = pq.read_table(result.write(tmp_path / "rows.parquet")).to_pylist()[0]
    assert json.loads(table["transcript"]) == row.transcript and json.loads(table["turns"]) == row.turns
    assert json.loads(table["end_state"])["passed"] is True
    written = result.write(tmp_path / "rows.jsonl").read_text().splitlines()
    assert json.loads(written[0])["transcript"] == row.transcript


def test_a_job_may_bring_its_own_end_state_scorer(scripted: Any) -> None:
    import asyncio

    from permutate_nb.core.jobs.permutate import PermutateJob, plan_job
    from permutate_nb.core.jobs.runner import execute

    scripted.set_script(SHOP_SCRIPT)
    seen: list[Any] = []

    def scorer(instance: Any, expected: Any, case: Any, transcript: Any) -> list[str]:
        seen.append((instance.items, expected, case.name))
        return ["the list should be empty"]

    case = {k: v for k, v in _shop_case([]).items() if k != "expected_state"}  # runs without expected_state
    job = PermutateJob(plan_job(request(scripted.base_url, case)), end_state=scorer)
    (row,) = asyncio.run(execute(job)).details
    assert seen == [(["bread", "milk"], {}, "shop")]
    assert row.reason == "end state: the list should be empty" and not row.passed


def test_a_provider_error_or_a_backend_that_refuses_its_config_fails_the_run(scripted: Any) -> None:
    scripted.set_script({"rules": [{"responses": [{"tool_call": call("add_item", item="milk")},
                                                  {"status": 400, "body": "context too long"}]}]})
    case = {"name": "c", "backend": SHOP, "turns": [{"user": "milk"}]}
    bad = {"name": "bad", "backend": SHOP, "initial_config": {"colour": "red"}, "turns": [{"user": "milk"}]}
    rows = {row.test_case_name: row for row in pn.run(request(scripted.base_url, case, bad, concurrency=1)).details}
    assert not rows["c"].is_run_completed and "answered HTTP 400: context too long" in rows["c"].error
    assert not rows["bad"].is_run_completed and rows["bad"].error.startswith(
        "backend permutate_nb.examples.shopping:ShoppingList: cannot start it with initial_config: TypeError:")


def test_a_turn_expecting_a_tool_nobody_offers_is_warned_before_any_call() -> None:
    """Planning names the turn and the nearest tool; a backend's methods count as offered (its cases only)."""
    from permutate_nb.core.jobs.expectations import expectation_warnings

    typo = {"name": "typo", "turns": [{"user": "weather?", "expected_calls": [{"api": "get_wether"}]}]}
    shop = _shop_case(["bread", "milk"])  # add_item: one of its backend's methods
    not_here = {"name": "no-backend", "turns": [{"user": "add milk", "expected_calls": [{"api": "add_item"}]}]}
    assert expectation_warnings(pn.validate(request("http://127.0.0.1:9/v1", typo, shop, not_here))) == [
        "test case 'typo': turns[0].expected_calls[0].api get_wether is no tool the conversation offers (nearest: get_weather)",
        "test case 'no-backend': turns[0].expected_calls[0].api add_item is no tool the conversation offers (nearest: get_time)",
    ]
