"""Several calls, no call, any call: test case fields, the multiset pairing, and rows that show every call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import permutate_nb as pn
from permutate_nb.core.jobs.expectations import expectation_warnings
from permutate_nb.core.plugins.openapi import extract_operations
from permutate_nb.core.scoring.calls import Call, ExpectedCallSpec, score_calls
from permutate_nb.errors import RequestError

BASE = "https://weather.test"
DOC = {
    "openapi": "3.0.3", "info": {"title": "Weather", "version": "1"}, "servers": [{"url": BASE}],
    "paths": {
        "/weather": {"post": {"operationId": "getWeather", "summary": "The weather in a city", "requestBody": {
            "required": True, "content": {"application/json": {"schema": {"type": "object", "properties": {
                "city": {"type": "string"}, "unit": {"type": "string"}}, "required": ["city"]}}}},
            "responses": {"200": {"description": "ok"}}}},
        "/ping": {"post": {"operationId": "ping", "summary": "Is the service up", "requestBody": {
            "required": True, "content": {"application/json": {"schema": {"type": "object", "properties": {}}}}},
            "responses": {"200": {"description": "ok"}}}},
    },
}


def _call(url: str, arguments: dict[str, Any] | None, plugin: str = "p") -> Call:
    return Call(url.rsplit("/", 1)[-1], plugin, "P", f"{BASE}{url}", "POST", arguments)


def _expected(city: str, plugin: str = "p") -> ExpectedCallSpec:
    return ExpectedCallSpec(plugin, f"{BASE}/weather", "post", {"city": city})


def test_expected_calls_match_as_a_multiset() -> None:
    paris, oslo = _expected("Paris"), _expected("Oslo")
    made = [_call("/weather", {"city": "Oslo"}), _call("/weather", {"city": "Paris"})]
    score = lambda calls, **kw: score_calls([paris, oslo], calls, test_type="api_signature_selector", **kw)  # noqa: E731
    verdict = score(made)
    assert verdict.passed and [(p.expected, p.made) for p in verdict.pairings] == [(0, 1), (1, 0)]
    assert not score(made, call_order="strict").passed  # strict: the i-th call made is the i-th expected
    missing = score(made[:1])
    assert not missing.passed and missing.plugin_detected is False  # one call cannot pair with two
    extra = score([*made, _call("/weather", {"city": "Rome"})])
    assert not extra.passed and extra.plugin_detected and not extra.operation_found  # a call too many fails step b
    wrong = score([_call("/weather", {"city": "Oslo"}), _call("/weather", {"city": "Pariss"})])
    assert not wrong.passed and wrong.operation_found and wrong.parameter_percentage == 50.0
    assert [m.parameter for m in wrong.mismatches] == ["calls[0].city"]  # the pairing says which call failed, and why


def test_bfcl_pairs_as_bfcl_does_greedy_in_order() -> None:
    # the first expected call takes the first call that fits it, even when a later expected call needed that one
    loose = ExpectedCallSpec("p", f"{BASE}/weather", None, {"city": {"$one_of": ["Paris", "Oslo"]}})
    strict = ExpectedCallSpec("p", f"{BASE}/weather", None, {"city": "Paris"})
    made = [_call("/weather", {"city": "Paris"}), _call("/weather", {"city": "Oslo"})]
    assert score_calls([loose, strict], made, test_type="api_signature_selector", mode="lenient").passed
    assert not score_calls([loose, strict], made, test_type="api_signature_selector", mode="bfcl").passed


def test_no_call_and_any_call() -> None:
    one = [_call("/ping", {})]
    malformed = [_call("/ping", None)]  # arguments that are not a JSON object: BFCL decodes no call
    for calls, no, anything in (([], True, False), (one, False, True), (malformed, True, False)):
        assert score_calls([], calls, test_type="api_signature_selector", expect_no_call=True).passed is no
        assert score_calls([], calls, test_type="api_signature_selector", expect_any_call=True).passed is anything


def test_a_function_without_parameters_is_offered_an_empty_object() -> None:
    ping = next(op for op in extract_operations(DOC, "doc.json", plugin_id="p", plugin_name="P") if op.url.endswith("/ping"))
    assert ping.parameters == {"type": "object", "properties": {}, "required": []}


@pytest.mark.parametrize("case, message", [
    ({"expected_calls": [{"plugin": "p", "api": "a"}], "expected_parameters": {"x": 1}},
     r"test_cases\[0\]: expected_parameters: give each call's parameters inside expected_calls"),
    ({"expect_no_call": True, "expected_plugin_used": "p"}, r"expected_plugin_used: not used with expect_no_call"),
    ({"expect_no_call": True, "expect_any_call": True}, r"expect_any_call: a test case expects one of"),
    ({"expected_calls": []}, r"expected_calls: List should have at least 1 item"),
    ({}, r"expected_plugin_used: missing required field \(or give expected_calls"),
])
def test_bad_expectations_name_the_field(case: dict[str, Any], message: str) -> None:
    data = _request("http://127.0.0.1:9/v1", "doc.json", [{"name": "c", "type": "plugin_selector", "prompt": "p", **case}])
    with pytest.raises(RequestError, match=message):
        pn.load_request(data)


def _request(base_url: str, doc: str, cases: list[dict[str, Any]], selector: str = "OpenAI",
             llm: str = "OpenAIChat") -> dict[str, Any]:
    return {
        "name": "calls", "config": {"cache": False, "max_retries": 0},
        "plugin_groups": [{"name": "g", "plugins": [{"manifest_url": doc}]}],
        "permutations": [{"name": "m", "llm": {"provider": llm, "model_name": "scripted-model", "base_url": base_url},
                          "tool_selector": {"provider": selector, "plugin_group_name": "g"}}],
        "test_cases": cases,
    }


def test_rows_show_every_call(scripted: Any, tmp_path: Path) -> None:
    doc = tmp_path / "weather.json"
    doc.write_text(json.dumps(DOC), encoding="utf-8")
    weather = lambda city: {"plugin": str(doc), "api": f"{BASE}/weather", "method": "post", "parameters": {"city": city}}  # noqa: E731
    cases = [
        {"name": "parallel", "type": "api_signature_selector", "prompt": "weather in Paris and in Oslo",
         "expected_calls": [weather("Paris"), weather("Oslo")]},
        {"name": "parallel_short", "type": "api_signature_selector", "prompt": "weather in Rome and in Bern",
         "expected_calls": [weather("Rome"), weather("Bern")]},
        {"name": "nothing_fits", "type": "api_signature_selector", "prompt": "tell me a joke", "expect_no_call": True},
        {"name": "nothing_fits_but_called", "type": "api_signature_selector", "prompt": "sing a song", "expect_no_call": True},
        {"name": "something_fits", "type": "api_signature_selector", "prompt": "is it up?", "expect_any_call": True},
        {"name": "no_parameters", "type": "api_signature_selector", "prompt": "ping it", "expected_plugin_used": str(doc),
         "expected_api_used": f"{BASE}/ping", "expected_parameters": {}},
        {"name": "null_unit", "type": "api_signature_selector", "prompt": "weather in Lima", "parameter_matching": "strict",
         "expected_plugin_used": str(doc), "expected_api_used": f"{BASE}/weather",
         "expected_parameters": {"city": "Lima", "unit": None}},
    ]
    scripted.set_script({"rules": [
        {"match": "Paris and", "responses": [{"tool_calls": [{"name": "getWeather", "arguments": {"city": "Oslo"}},
                                                             {"name": "getWeather", "arguments": {"city": "Paris"}}]}]},
        {"match": "Rome and", "responses": [{"tool_call": {"name": "getWeather", "arguments": {"city": "Rome"}}}]},
        {"match": "joke", "responses": [{"text": "Why did the chicken cross the road?"}]},
        {"match": "song", "responses": [{"tool_call": {"name": "ping", "arguments": {}}}]},
        {"match": "is it up", "responses": [{"tool_call": {"name": "ping", "arguments": {}}}]},
        {"match": "ping it", "responses": [{"tool_call": {"name": "ping", "arguments": {}}}]},
        {"match": "Lima", "responses": [{"tool_call": {"name": "getWeather", "arguments": {"city": "Lima", "unit": None}}}]},
    ]})
    result = pn.run(_request(scripted.base_url, str(doc), cases), store=False)

    rows = {row.test_case_name: row for row in result.details}
    assert {name: row.passed for name, row in rows.items()} == {
        "parallel": True, "parallel_short": False, "nothing_fits": True, "nothing_fits_but_called": False,
        "something_fits": True, "no_parameters": True, "null_unit": True}
    parallel = rows["parallel"]
    assert [c["parameters"] for c in parallel.calls_made] == [{"city": "Oslo"}, {"city": "Paris"}]
    assert [c["parameters"] for c in parallel.calls_expected] == [{"city": "Paris"}, {"city": "Oslo"}]
    assert [(p["expected"], p["made"], p["passed"]) for p in parallel.call_pairings] == [(0, 1, True), (1, 0, True)]
    short = rows["parallel_short"]
    assert (short.is_plugin_detected, short.is_plugin_operation_found, short.parameter_mapped_percentage) == (False, False, 50.0)
    assert [(p["expected"], p["made"]) for p in short.call_pairings] == [(0, 0), (1, None)]
    assert rows["nothing_fits"].calls_made == [] and rows["nothing_fits"].calls_expected == []
    # the rows survive the job store as they were
    stored = pn.run(_request(scripted.base_url, str(doc), cases))
    again = {row.test_case_name: row for row in pn.results(stored.job_id).details}
    assert again["parallel"].call_pairings == parallel.call_pairings and again["parallel"].calls_made == parallel.calls_made


def test_a_parallel_expectation_on_a_one_call_selector_warns(tmp_path: Path) -> None:
    doc = tmp_path / "weather.json"
    doc.write_text(json.dumps(DOC), encoding="utf-8")
    weather = {"plugin": str(doc), "api": f"{BASE}/weather", "parameters": {"city": "Paris"}}
    case = {"name": "two", "type": "api_signature_selector", "prompt": "p", "expected_calls": [weather, weather]}
    warned = expectation_warnings(pn.validate(_request("http://127.0.0.1:9/v1", str(doc), [case], selector="Imprompt")))
    assert warned == ["test case 'two': expected_calls lists 2 calls, but the selector of m returns one call, so it "
                      "can never pass (use OpenAI function calling or the Langchain tool-calling pipeline)"]
    assert expectation_warnings(pn.validate(_request("http://127.0.0.1:9/v1", str(doc), [case]))) == []


def test_only_expectations_that_can_never_pass_are_warned(tmp_path: Path) -> None:
    """An optional value is met by leaving the parameter out, whatever its type or name; in ``bfcl`` mode
    BFCL's checker judges types by its own rules (Java and JavaScript values as source text), so only it does."""
    doc = tmp_path / "weather.json"
    doc.write_text(json.dumps(DOC), encoding="utf-8")

    def case(name: str, parameters: dict[str, Any], **fields: Any) -> dict[str, Any]:
        call = {"plugin": str(doc), "api": f"{BASE}/weather", "parameters": parameters}
        return {"name": name, "type": "api_signature_selector", "prompt": "p", "expected_calls": [call], **fields}

    cases = [case("optional", {"city": "Paris", "unit": {"$one_of": [None], "$optional": True},
                               "days": {"$one_of": [3], "$optional": True}}),
             case("bfcl", {"city": True}, parameter_matching="bfcl"),
             case("lenient", {"city": [1]}),
             case("unknown", {"city": "Paris", "days": 3}, parameter_matching="bfcl")]
    assert expectation_warnings(pn.validate(_request("http://127.0.0.1:9/v1", str(doc), cases))) == [
        "test case 'lenient': expected_calls[0] value [1] of parameter 'city' cannot be of type string",
        f"test case 'unknown': expected_calls[0] parameter 'days' is not a parameter of POST {BASE}/weather "
        "(it has: city, unit)",
    ]
