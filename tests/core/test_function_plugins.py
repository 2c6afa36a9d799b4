"""Function schemas as plugins (an OpenAI tools file, a BFCL function list, Python callables), the
tool-list snapshot stored with every job, and schema drift in comparisons."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import permutate_nb as pn
from permutate_nb.cli import main
from permutate_nb.core.jobs.permutate import plan_job
from permutate_nb.core.plugins.function_source import parse_functions

tools_from_functions = pn.tools_from_functions
from permutate_nb.core.plugins.tool_snapshot import drift

WEATHER = [
    {"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city.",
                                      "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                     "unit": {"type": "string", "enum": ["C", "F"]}},
                                                     "required": ["city"]}}},
    {"type": "function", "function": {"name": "get_forecast", "description": "Forecast for the next days.",
                                      "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                     "days": {"type": "integer"}}, "required": ["city", "days"]}}},
]
BFCL = [{"name": "calculate_area", "description": "Area of a triangle.",
         "parameters": {"type": "dict", "properties": {"base": {"type": "float", "description": "the base"},
                                                       "heights": {"type": "tuple", "items": {"type": "float"}},
                                                       "extra": {"type": "any"}},
                        "required": ["base"]}}]


def request(base_url: str, functions: Any, cases: list[dict[str, Any]], **config: Any) -> dict[str, Any]:
    llm = {"provider": "OpenAIChat", "model_name": "gpt-4o-mini", "temperature": 0, "base_url": base_url}
    return {
        "name": "functions_job", "config": {"cache": False, "max_retries": 0, **config},
        "plugin_groups": [{"name": "g", "plugins": [{"name": "weather", "functions": functions}]}],
        "permutations": [{"name": "p1", "llm": llm, "tool_selector": {"provider": "OpenAI", "plugin_group_name": "g"}}],
        "test_cases": [{"type": "plugin_selector", **case} for case in cases],
    }


CASES = [{"name": "now", "prompt": "weather in Oslo?", "expected_plugin_used": "weather", "expected_api_used": "get_weather"},
         {"name": "later", "prompt": "forecast for Oslo", "expected_plugin_used": "weather", "expected_api_used": "get_forecast"}]


def test_parse_openai_tools_bare_functions_and_bfcl_types() -> None:
    assert [t["name"] for t in parse_functions(WEATHER, "x")] == ["get_weather", "get_forecast"]
    assert parse_functions({"tools": [WEATHER[0]["function"]]}, "x")[0]["input_schema"]["required"] == ["city"]
    (area,) = parse_functions(BFCL, "x")
    props = area["input_schema"]["properties"]
    assert area["input_schema"]["type"] == "object" and props["base"] == {"type": "number", "description": "the base"}
    assert props["heights"] == {"type": "array", "items": {"type": "number"}} and props["extra"] == {}
    with pytest.raises(pn.PermutateError, match=r"^x: item 0 is not a function \(it needs a name"):
        parse_functions([{"description": "nameless"}], "x")


def test_a_functions_file_runs_and_scores_the_right_tool(scripted: Any, tmp_path: Path) -> None:
    path = tmp_path / "tools.json"
    path.write_text(json.dumps(WEATHER))
    scripted.set_script({"rules": [{"responses": [{"tool_call": {"name": "get_weather", "arguments": {"city": "Oslo"}}}]}]})
    req = request(scripted.base_url, str(path), CASES)
    result = pn.run(req)
    rows = {row.test_case_name: row for row in result.details}
    assert rows["now"].passed and rows["now"].plugin_name == "weather" and rows["now"].plugin_method == ""
    assert not rows["later"].passed and rows["later"].is_plugin_detected and not rows["later"].is_plugin_operation_found
    sent = scripted.requests[0]["json"]["tools"]
    assert [t["function"]["name"] for t in sent] == ["get_weather", "get_forecast"]
    assert sent[0]["function"]["description"] == "weather: Current weather in a city."
    assert sent[0]["function"]["parameters"] == WEATHER[0]["function"]["parameters"]


def test_relative_functions_path_resolves_against_the_request_file(tmp_path: Path) -> None:
    (tmp_path / "tools.json").write_text(json.dumps(WEATHER))
    (tmp_path / "r.json").write_text(json.dumps(request("http://127.0.0.1:9/v1", "tools.json", CASES)))
    plan = plan_job(str(tmp_path / "r.json"), check_keys=False)
    assert plan.request.plugin_groups[0].plugins[0].functions == str(tmp_path / "tools.json")
    assert plan.request.test_cases[0].expected_plugin_used == "weather"  # a name, not resolved as a path


def test_a_missing_file_and_a_bad_entry_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(pn.PermutateError, match=r"nope\.json: functions file not found$"):
        plan_job(request("http://127.0.0.1:9/v1", str(tmp_path / "nope.json"), CASES), check_keys=False)
    with pytest.raises(pn.RequestError, match=r"a plugin needs exactly one of manifest_url, mcp"):
        pn.validate({**request("http://127.0.0.1:9/v1", WEATHER, CASES),
                     "plugin_groups": [{"name": "g", "plugins": [{"name": "weather"}]}]})
    with pytest.raises(pn.RequestError, match=r"needs a name"):
        pn.validate({**request("http://127.0.0.1:9/v1", WEATHER, CASES),
                     "plugin_groups": [{"name": "g", "plugins": [{"functions": WEATHER}]}]})


def test_an_invalid_input_schema_warns_and_is_offered_as_given() -> None:
    bad = [{"name": "broken", "description": "d", "parameters": {"type": "object", "properties": {"x": {"type": "strang"}}}}]
    with pytest.warns(pn.PermutateWarning, match=r"tool 'broken' has an input schema that is not valid JSON Schema .*offered as given"):
        plan = plan_job(request("http://127.0.0.1:9/v1", bad, [{**CASES[0], "expected_api_used": "broken"}]), check_keys=False)
    assert plan.toolsets["g"].tools[0]["function"]["parameters"]["properties"]["x"] == {"type": "strang"}


def convert(amount: float, currency: str = "EUR", *, rounded: bool = False) -> dict[str, Any]:
    """Convert an amount of US dollars to another currency.

    Args:
        amount: how many US dollars.
        currency: the ISO code of the target currency.
        rounded: round to whole units.
    """
    value = amount * {"EUR": 0.5, "NOK": 10.0}[currency]
    return {"amount": round(value) if rounded else value, "currency": currency}


async def shout(text: str) -> str:
    """Repeat the text in capitals."""
    return text.upper()


def test_tools_from_functions_schema_from_signature_and_docstring() -> None:
    tools = tools_from_functions([convert, shout])
    function = tools[0]["function"]
    assert function["name"] == "convert" and function["description"] == "Convert an amount of US dollars to another currency."
    assert function["parameters"] == {
        "type": "object", "required": ["amount"],
        "properties": {"amount": {"type": "number", "description": "how many US dollars."},
                       "currency": {"type": "string", "default": "EUR", "description": "the ISO code of the target currency."},
                       "rounded": {"type": "boolean", "default": False, "description": "round to whole units."}},
    }
    assert tools[1]["function"]["parameters"]["required"] == ["text"] and tools.callables["shout"] is shout


def test_callables_are_the_executor(scripted: Any) -> None:
    scripted.set_script({"rules": [
        {"match": "dollars", "responses": [{"tool_call": {"name": "convert", "arguments": {"amount": "8", "currency": "NOK"}}}]},
        {"match": "loud", "responses": [{"tool_call": {"name": "shout", "arguments": {"text": "hi"}}}]},
        {"match": "broken", "responses": [{"tool_call": {"name": "convert", "arguments": {"amount": 1, "currency": "XXX"}}}]},
    ]})
    cases = [{"name": "money", "prompt": "8 dollars in NOK", "expected_plugin_used": "weather", "expected_api_used": "convert"},
             {"name": "loud", "prompt": "say hi loud", "expected_plugin_used": "weather", "expected_api_used": "shout"},
             {"name": "broken", "prompt": "broken currency", "expected_plugin_used": "weather", "expected_api_used": "convert"}]
    result = pn.run(request(scripted.base_url, tools_from_functions([convert, shout]), cases, execute_operations=True))
    rows = {row.test_case_name: row for row in result.details}
    assert json.loads(rows["money"].final_output or "") == {"amount": 80.0, "currency": "NOK"}  # "8" coerced to 8.0
    assert rows["loud"].final_output == "HI" and rows["loud"].passed
    assert rows["broken"].passed and rows["broken"].error == "tool convert: KeyError: 'XXX'"


def test_snapshot_drift_between_jobs_and_permutations(scripted: Any, tmp_path: Path, capsys: Any) -> None:
    scripted.set_script({"rules": [{"responses": [{"tool_call": {"name": "get_weather", "arguments": {"city": "Oslo"}}}]}]})
    path = tmp_path / "tools.json"
    path.write_text(json.dumps(WEATHER))
    before = pn.run(request(scripted.base_url, str(path), CASES))
    same = pn.run(request(scripted.base_url, str(path), CASES))
    changed = json.loads(json.dumps(WEATHER))
    changed[0]["function"]["description"] = "The weather right now in a city."
    changed[0]["function"]["parameters"]["properties"]["unit"]["enum"] = ["C", "F", "K"]
    changed[1]["function"]["name"] = "get_outlook"
    path.write_text(json.dumps(changed))
    after = pn.run(request(scripted.base_url, str(path), CASES))
    assert before.tools["g"]["digest"] == same.tools["g"]["digest"] != after.tools["g"]["digest"]
    assert pn.compare(before, same).tool_drift == []
    comparison = pn.compare(before, after)
    assert comparison.tool_drift == ["plugin group g: tool added: get_outlook", "plugin group g: tool removed: get_forecast",
                                     "plugin group g: description changed: get_weather",
                                     "plugin group g: schema changed: get_weather"]
    # the stored jobs and result files carry the same snapshots
    after.write(str(tmp_path / "after.json"))
    assert main(["compare", before.job_id, str(tmp_path / "after.json")]) == 0
    out = capsys.readouterr().out
    assert "tools differ (schema drift; an accuracy change may come from it): plugin group g: tool added: get_outlook" in out
    # two permutations of one job over different groups
    two = request(scripted.base_url, WEATHER, CASES)
    two["plugin_groups"].append({"name": "h", "plugins": [{"name": "weather", "functions": changed}]})
    two["permutations"].append({**two["permutations"][0], "name": "p2",
                                "tool_selector": {"provider": "OpenAI", "plugin_group_name": "h"}})
    with pytest.raises(pn.RequestError, match=r"plugin name 'weather' names two different sources"):
        pn.validate(two)
    two["plugin_groups"][1]["plugins"][0]["name"] = "weather2"
    job = pn.run(two)
    lines = job.compare("p1", "p2").tool_drift
    assert lines[:2] == ["plugin group g -> h: tool added: get_outlook", "plugin group g -> h: tool removed: get_forecast"]
    assert "tools differ (schema drift): plugin group g -> h: tool added: get_outlook" in str(job.compare("p1", "p2"))


def test_drift_without_snapshots_is_silent() -> None:
    assert drift(None, {"g": {"digest": "x", "tools": []}}) == []


def test_cli_tools_for_functions_and_openapi(tmp_path: Path, capsys: Any) -> None:
    from ..helpers import KLARNA, PRODUCTS_URL

    path = tmp_path / "tools.json"
    path.write_text(json.dumps(WEATHER))
    assert main(["tools", "--functions", str(path)]) == 0
    assert capsys.readouterr().out == (
        "plugin functions\n"
        "  get_weather  -  Current weather in a city.\n      parameters: city*, unit\n"
        "  get_forecast  -  Forecast for the next days.\n      parameters: city*, days*\n")
    assert main(["tools", "--manifest", str(KLARNA), "--json"]) == 0
    (line,) = json.loads(capsys.readouterr().out)
    assert (line["tool"], line["method"], line["kind"]) == (PRODUCTS_URL, "GET", "openapi")
    assert main(["tools"]) == 2
    assert "give a request file, or exactly one of --manifest" in capsys.readouterr().err


def test_a_remote_selector_service_cannot_take_a_named_source() -> None:
    req = request("http://127.0.0.1:9/v1", WEATHER, CASES, tool_selector_endpoint="http://127.0.0.1:9")
    req["permutations"][0]["tool_selector"]["provider"] = "Imprompt"
    with pytest.raises(pn.ConfigurationError, match=r"^permutations\[0\]\.tool_selector: the selector service .* 'weather' is an MCP"):
        pn.validate(req)


def test_docstring_forms() -> None:
    def f(a: int, b: str = "x") -> None:
        """Do f.

        :param a: the first
        :param b: the second
        """

    def g(city: str) -> None:
        """Look up a city.

        Args:
            city: the city's name, as people
                write it.
        """

    assert tools_from_functions([f])[0]["function"]["parameters"]["properties"]["a"]["description"] == "the first"
    (tool,) = tools_from_functions([g])
    assert tool["function"]["description"] == "Look up a city."
    assert tool["function"]["parameters"]["properties"]["city"]["description"] == "the city's name, as people write it."
