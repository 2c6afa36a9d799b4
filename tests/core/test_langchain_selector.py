"""Selector ``Langchain`` (ChatOpenAI against the scripted server): ReAct and tool calling.

With ``execute_operations`` the agent's calls reach the local plugin API and its final
answer becomes ``final_output``; the intermediate steps are in the row either way.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import permutate_nb as pn
from permutate_nb.testing.plugin_api_server import PluginAPIServer

from ..helpers import PRODUCTS_URL, klarna_request

pytest.importorskip("langchain_openai")

REACT_ACTION = {"text": 'I should search Klarna.\nAction: productsUsingGET\nAction Input: {"q": "T shirt", "size": 5}'}
REACT_FINAL = {"text": "I now know the final answer\nFinal Answer: Here are 5 T shirts from Klarna."}
CALL = {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}}


def lc_request(server: Any, pipeline: str, **config: Any) -> dict[str, Any]:
    request = klarna_request(base_url=server.base_url, **{"cache": False, **config})
    request["permutations"][0]["llm"]["max_tokens"] = 200
    request["permutations"][0]["tool_selector"] = {"provider": "Langchain", "pipeline_name": pipeline,
                                                   "plugin_group_name": "klarna"}
    return request


@pytest.fixture
def api() -> Iterator[PluginAPIServer]:
    with PluginAPIServer() as server:
        yield server


def on_api(request: dict[str, Any], api: PluginAPIServer) -> dict[str, Any]:
    request["plugin_groups"][0]["plugins"][0]["manifest_url"] = api.manifest_url
    for case in request["test_cases"]:
        case.update(expected_plugin_used=api.manifest_url, expected_api_used=api.products_url)
    request["config"]["execute_operations"] = True
    return request


def test_react_agent_selects_by_its_first_action(scripted: Any) -> None:
    scripted.set_script({"rules": [{"match": "Question:", "responses": [REACT_ACTION]}]})
    result = pn.run(lc_request(scripted, "zero-shot-react-description"))
    for row in result.details:
        assert row.passed and row.plugin_operation == PRODUCTS_URL
        assert row.permutation_summary == "OpenAIChat[gpt-4o-mini] - Langchain[zero-shot-react-description]"
        assert row.intermediate_steps == [{"tool": "productsUsingGET", "tool_input": {"q": "T shirt", "size": 5},
                                           "log": REACT_ACTION["text"], "observation": None}]
        assert row.total_llm_tokens_used > 0 and row.llm_api_cost and row.attempts == 1
    body = scripted.requests[0]["json"]
    assert body["stop"] == ["\nObservation:"] and body["max_tokens"] == 200 and "max_completion_tokens" not in body
    prompt = body["messages"][0]["content"]
    assert body["messages"][0]["role"] == "user" and "tools" not in body
    assert "productsUsingGET - Klarna Shopping: API for fetching Klarna product information" in prompt
    assert "Action: the action to take, should be one of [productsUsingGET]" in prompt
    assert prompt.endswith("Question: Show me 5 T shirts from Klarna\nThought:") or "Question: Find" in prompt


def test_react_replies_without_an_action(scripted: Any) -> None:
    scripted.set_script({"rules": [{"match": "Question: Show", "responses": [REACT_FINAL]},
                                   {"responses": [{"text": "Sure! Shirts are great."}]}]})
    final, garbled = pn.run(lc_request(scripted, "zero-shot-react-description")).details
    assert final.is_run_completed and not final.is_plugin_detected and final.error == "the agent answered without calling a tool"
    assert final.final_output == "Here are 5 T shirts from Klarna." and final.intermediate_steps == []
    assert garbled.error == "the agent's reply has neither an Action nor a Final Answer"
    assert garbled.raw_response == "Sure! Shirts are great."


def test_tool_calling_binds_the_tools(scripted: Any) -> None:
    scripted.set_script({"rules": [{"responses": [CALL]}]})
    result = pn.run(lc_request(scripted, "tool-calling"))
    assert all(r.passed for r in result.details)
    assert result.details[1].intermediate_steps == [
        {"tool": "productsUsingGET", "tool_input": {"q": "T shirt", "size": 5}, "log": "", "observation": None}]
    body = scripted.requests[0]["json"]
    assert body["tool_choice"] == "auto" and body["tools"][0]["function"]["name"] == "productsUsingGET"
    assert set(body["tools"][0]["function"]["parameters"]["properties"]) == {"q", "size", "min_price", "max_price"}
    assert body["max_tokens"] == 200 and body["temperature"] == 0


def test_tool_calling_malformed_arguments(scripted: Any) -> None:
    bad = {"tool_call": {"name": "productsUsingGET", "arguments": '{"q": "T shirt", size: }'}}
    scripted.set_script({"rules": [{"responses": [bad]}]})
    row = pn.run(lc_request(scripted, "tool-calling")).details[1]
    assert row.is_run_completed and row.is_plugin_operation_found and not row.is_plugin_parameter_mapped
    assert row.error == "the tool call's arguments are not a JSON object"


def test_react_agent_executes_and_answers(scripted: Any, api: PluginAPIServer) -> None:
    scripted.set_script({"rules": [
        {"match": "Observation: {", "responses": [REACT_FINAL]},  # the template's own line has no brace
        {"match": "Question:", "responses": [REACT_ACTION]},
    ]})
    request = on_api(lc_request(scripted, "zero-shot-react-description"), api)
    request["test_cases"][0]["expected_response"] = "Here are 5 T shirts from Klarna"
    rows = pn.run(request).details
    for row in rows:
        assert row.passed and row.operation_status == 200 and row.attempts == 2
        assert row.final_output == "Here are 5 T shirts from Klarna."
        (step,) = row.intermediate_steps or []
        assert json.loads(step["observation"])["products"][0]["name"] == "Basic Cotton T shirt"
    assert rows[0].match_score == 1.0
    second_turn = next(r["json"] for r in scripted.requests if "Observation: {" in r["json"]["messages"][0]["content"])
    assert "Basic Cotton T shirt" in second_turn["messages"][0]["content"]
    assert [r["query"] for r in api.requests if r["path"].endswith("/products")] == [{"q": "T shirt", "size": "5"}] * 2


def test_tool_calling_agent_executes_and_answers(scripted: Any, api: PluginAPIServer) -> None:
    answer = {"text": "Klarna has these T shirts: Basic Cotton T shirt ($12.00), ..."}
    scripted.set_script({"rules": [{"match": "Show me", "responses": [CALL, answer]},
                                   {"match": "Find", "responses": [CALL, answer]}]})
    rows = pn.run(on_api(lc_request(scripted, "tool-calling"), api)).details
    for row in rows:
        assert row.passed and row.final_output == answer["text"] and row.operation_status == 200
        assert row.intermediate_steps and "Basic Cotton T shirt" in row.intermediate_steps[0]["observation"]
    follow_up = [r["json"]["messages"] for r in scripted.requests if len(r["json"]["messages"]) == 3]
    assert follow_up and follow_up[0][1]["tool_calls"][0]["function"]["name"] == "productsUsingGET"
    assert follow_up[0][2]["role"] == "tool" and "Basic Cotton T shirt" in follow_up[0][2]["content"]


def test_cached_rerun_makes_no_calls(scripted: Any) -> None:
    scripted.set_script({"rules": [{"match": "Question:", "responses": [REACT_ACTION]}]})
    request = lc_request(scripted, "zero-shot-react-description", cache=True, repeats=2)
    first = pn.run(request)
    assert len(scripted.requests) == 4 and not any(d.cached for d in first.details)
    second = pn.run(request)
    assert len(scripted.requests) == 4 and all(d.cached and d.attempts == 0 for d in second.details)
    assert [d.total_llm_tokens_used for d in second.details] == [d.total_llm_tokens_used for d in first.details]
    assert [d.intermediate_steps for d in second.details] == [d.intermediate_steps for d in first.details]


def test_model_errors_fail_the_run_in_one_line(scripted: Any) -> None:
    scripted.set_script({"rules": [{"responses": [{"status": 401}]}]})
    rows = pn.run(lc_request(scripted, "tool-calling", max_retries=0)).details
    for row in rows:
        assert not row.is_run_completed and "AuthenticationError" in (row.error or "")
        assert row.error.endswith("(check the API key)") and "\n" not in row.error


def test_unknown_pipeline_is_refused() -> None:
    request = klarna_request()
    request["permutations"][0]["tool_selector"] = {"provider": "Langchain", "pipeline_name": "plan-and-execute",
                                                   "plugin_group_name": "klarna"}
    with pytest.raises(pn.ConfigurationError, match="no pipeline 'plan-and-execute'; available: zero-shot-react"):
        pn.validate(request)


def test_missing_extra_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "langchain_openai" else real(name, *a))
    request = klarna_request()
    request["permutations"][0]["tool_selector"] = {"provider": "Langchain", "pipeline_name": "tool-calling",
                                                   "plugin_group_name": "klarna"}
    with pytest.raises(pn.MissingExtraError) as info:
        pn.validate(request)
    assert str(info.value) == 'langchain-openai is not installed: run  pip install "permutate-nb[langchain]"'


def test_an_oversize_reply_is_named_as_such_not_as_a_connection_error(scripted: Any) -> None:
    scripted.set_script({"rules": [{"responses": [{"text": "x" * 5000}]}]})
    rows = pn.run(lc_request(scripted, "tool-calling", max_response_bytes=2000, max_retries=0)).details
    for row in rows:
        assert not row.is_run_completed
        assert "more than 2,000 bytes (config.max_response_bytes)" in (row.error or ""), row.error


def test_tool_calling_returns_every_call_of_the_answer(scripted: Any) -> None:
    two = {"tool_calls": [{"name": "productsUsingGET", "arguments": {"q": "hat", "size": 2}},
                          {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}]}
    scripted.set_script({"rules": [{"responses": [two]}]})
    request = lc_request(scripted, "tool-calling")
    plugin = request["test_cases"][1]["expected_plugin_used"]
    call = lambda q, size: {"plugin": plugin, "api": PRODUCTS_URL, "method": "get", "parameters": {"q": q, "size": size}}  # noqa: E731
    request["test_cases"] = [{"name": "both", "type": "api_signature_selector", "prompt": "5 T shirts and 2 hats",
                              "expected_calls": [call("T shirt", 5), call("hat", 2)]}]
    row = pn.run(request).details[0]
    assert row.passed and [c["parameters"] for c in row.calls_made] == [{"q": "hat", "size": 2}, {"q": "T shirt", "size": 5}]
    assert [(p["expected"], p["made"]) for p in row.call_pairings] == [(0, 1), (1, 0)]
