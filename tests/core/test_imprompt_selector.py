"""Selector ``Imprompt`` without an endpoint: the in-process two-prompt pipeline against the scripted server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import permutate_nb as pn
from permutate_nb.core.plugins.loader import load_plugin
from permutate_nb.core.selectors.imprompt import choose_plugin
from permutate_nb.errors import ConfigurationError

from ..helpers import KLARNA, PRODUCTS_URL, SNAPSHOTS, WEB_SEARCH, klarna_request

PLUGIN_STEP = "Action: one of ["  # a substring of step 1's prompt only
OPERATION_STEP = "Operations (METHOD URL"  # a substring of step 2's prompt only


def imprompt_request(server: Any, *plugins: Path, **config: Any) -> dict[str, Any]:
    request = klarna_request(base_url=server.base_url, cache=False, **config)
    request["permutations"][0]["tool_selector"] = {"provider": "Imprompt", "pipeline_name": "default",
                                                   "plugin_group_name": "klarna"}
    if plugins:
        request["plugin_groups"][0]["plugins"] = [{"manifest_url": str(p)} for p in plugins]
    return request


def script(server: Any, plugin_answer: str, operation_answer: str = f"GET {PRODUCTS_URL}?q=T%20shirt&size=5") -> None:
    server.set_script({"rules": [
        {"match": PLUGIN_STEP, "responses": [{"text": plugin_answer, "usage": {"prompt_tokens": 100, "completion_tokens": 10}}]},
        {"match": OPERATION_STEP, "responses": [{"text": operation_answer,
                                                 "usage": {"prompt_tokens": 200, "completion_tokens": 20}}]},
    ]})


def prompts(server: Any) -> tuple[str, str]:
    """The first plugin-choice prompt and the first operation-choice prompt sent (runs go concurrently)."""
    sent = [r["json"]["messages"][-1]["content"] for r in server.requests]
    return next(p for p in sent if PLUGIN_STEP in p), next(p for p in sent if OPERATION_STEP in p)


def test_plugin_then_operation_scores_steps_a_b_c(scripted: Any) -> None:
    script(scripted, "Thought: the user wants to shop.\nAction: Klarna Shopping")
    result = pn.run(imprompt_request(scripted))
    first, second = result.details
    assert second.is_run_completed and second.passed
    assert (second.is_plugin_detected, second.is_plugin_operation_found, second.is_plugin_parameter_mapped) == (True,) * 3
    assert second.plugin_parameters_mapped == {"q": "T shirt", "size": 5}  # size typed by the schema
    assert first.passed and first.permutation_summary == "OpenAIChat[gpt-4o-mini] - Imprompt[default]"
    assert second.prompt_tokens == 300 and second.completion_tokens == 30 and second.total_llm_tokens_used == 330
    assert second.llm_api_cost is not None and second.llm_api_cost > 0  # gpt-4o-mini is priced
    assert second.intermediate_steps == [
        {"step": "plugin_choice", "answer": "Thought: the user wants to shop.\nAction: Klarna Shopping",
         "plugin": "Klarna Shopping", "prompt_tokens": 100, "completion_tokens": 10},
        {"step": "operation_choice", "answer": f"GET {PRODUCTS_URL}?q=T%20shirt&size=5",
         "operation": f"GET {PRODUCTS_URL}", "prompt_tokens": 200, "completion_tokens": 20},
    ]
    plugin_prompt, operation_prompt = prompts(scripted)
    assert "Klarna Shopping: Search and compare prices from thousands of online shops." in plugin_prompt
    assert "Question: Show me 5 T shirts from Klarna\nThought:" in plugin_prompt
    assert f"GET {PRODUCTS_URL} - API for fetching Klarna product information (q, size, min_price, max_price)" \
        in operation_prompt
    assert "  Hint: Put the product or category in q" in operation_prompt  # the manifest's prompt helpers
    assert all(r["path"] == "/v1/chat/completions" and "tools" not in r["json"] for r in scripted.requests)


def test_action_none_completes_without_a_second_prompt(scripted: Any) -> None:
    script(scripted, "Thought: no tool is needed.\nAction: None")
    result = pn.run(imprompt_request(scripted))
    assert len(scripted.requests) == 2  # one prompt per test case
    for row in result.details:
        assert row.is_run_completed and not row.is_plugin_detected and row.plugin_name is None
        assert row.error == "the model chose no plugin (Action: none)"
        assert [s["step"] for s in row.intermediate_steps] == ["plugin_choice"]
        assert row.intermediate_steps[0]["plugin"] is None


def test_unparsable_plugin_answer_fails_the_run(scripted: Any) -> None:
    script(scripted, "I would love to help you find T shirts!")
    result = pn.run(imprompt_request(scripted))
    assert result.summary["failed_cases"] == 2 and result.summary["overall_accuracy"] == 0.0
    row = result.details[0]
    assert not row.is_run_completed
    assert row.error == (
        "Imprompt plugin choice: the answer names no plugin of the group (Klarna Shopping) and not none; "
        "expected 'Action: <plugin name>' or 'Action: none'; the answer: 'I would love to help you find T shirts!'")


@pytest.mark.parametrize("answer", [
    "Thought: shopping\nAction:   klarna   SHOPPING.",
    "Thought: shopping\n**Action:** `klarna_shopping` - to search products",
    "Klarna Shopping is the tool for this.",  # no Action line: the one plugin the answer names
])
def test_plugin_names_are_matched_tolerantly(scripted: Any, answer: str) -> None:
    script(scripted, answer)
    row = pn.run(imprompt_request(scripted)).details[1]
    assert row.is_run_completed and row.passed and row.intermediate_steps[0]["plugin"] == "Klarna Shopping"


def test_the_chosen_plugin_is_the_only_one_parsed(scripted: Any) -> None:
    """Two plugins: the web search is chosen, so a Klarna URL in its answer matches nothing."""
    script(scripted, "Thought: search.\nAction: Imprompt Web Search")
    row = pn.run(imprompt_request(scripted, KLARNA, WEB_SEARCH)).details[1]
    assert row.is_run_completed and row.plugin_name == "Imprompt Web Search"
    assert not row.is_plugin_detected and row.plugin_operation is None
    assert row.error == "the answer names no operation of the plugin group as METHOD URL"
    plugin_prompt, operation_prompt = prompts(scripted)
    assert "Action: one of [Klarna Shopping, Imprompt Web Search], or none" in plugin_prompt
    assert "Imprompt Web Search: Search the web" in plugin_prompt
    assert "https://ws.imprompt.ai/api/plugin/web-search/search" in operation_prompt and PRODUCTS_URL not in operation_prompt


def test_operation_miss_keeps_the_plugin_choice(scripted: Any) -> None:
    script(scripted, "Action: Klarna Shopping", "GET https://www.klarna.com/us/shopping/items?q=shirt")
    row = pn.run(imprompt_request(scripted)).details[1]
    assert row.is_run_completed and row.is_plugin_detected and not row.is_plugin_operation_found
    assert row.intermediate_steps[1]["operation"] is None and row.raw_response.startswith("GET https://www.klarna")


def test_name_for_model_and_signature_helpers(scripted: Any, tmp_path: Path) -> None:
    """An OpenAI manifest's model-facing name, an OpenPlugin manifest's plugin_signature_helpers."""
    spec = SNAPSHOTS / "klarna_openapi.json"
    manifest = tmp_path / "ai-plugin.json"
    manifest.write_text(json.dumps({
        "name_for_human": "Klarna Shopping", "name_for_model": "KlarnaProducts",
        "description_for_model": "Find products on Klarna.", "api": {"type": "openapi", "url": str(spec)},
    }))
    openplugin = tmp_path / "openplugin.json"
    openplugin.write_text(json.dumps({
        "schema_version": "v1", "name": "Shop", "description": "A shop.", "openapi_doc_url": str(spec),
        "plugin_operations": {"/public/openai/v0/products": {"get": {
            "plugin_signature_helpers": ["Always send size."]}}},
    }))
    script(scripted, "Action: KlarnaProducts")
    row = pn.run(imprompt_request(scripted, manifest)).details[0]
    assert row.is_run_completed and row.intermediate_steps[0]["plugin"] == "KlarnaProducts"
    assert "KlarnaProducts: Find products on Klarna." in prompts(scripted)[0]
    scripted.reset()
    script(scripted, "Action: Shop")
    assert pn.run(imprompt_request(scripted, openplugin)).details[0].is_run_completed
    assert "  Hint: Always send size." in prompts(scripted)[1]


def test_completion_models_and_the_cache(scripted: Any) -> None:
    script(scripted, " the user wants to shop.\nAction: Klarna Shopping")
    request = imprompt_request(scripted)
    request["permutations"][0]["llm"].update(provider="OpenAI", model_name="gpt-3.5-turbo-instruct")
    request["config"]["cache"] = True
    first = pn.run(request)
    assert first.details[1].passed and all(r["path"] == "/v1/completions" for r in scripted.requests)
    assert scripted.requests[0]["json"]["prompt"].endswith("Question: Show me 5 T shirts from Klarna\nThought:")
    second = pn.run(request)
    assert len(scripted.requests) == 4 and all(d.cached and d.attempts == 0 for d in second.details)
    assert second.details[1].intermediate_steps == first.details[1].intermediate_steps


def test_in_process_form_checks_the_llm_provider() -> None:
    request = klarna_request()
    request["permutations"][0]["tool_selector"]["provider"] = "Imprompt"
    request["permutations"][0]["llm"]["provider"] = "Cohere"
    with pytest.raises(ConfigurationError, match=r"permutations\[0\]\.llm\.provider: unknown provider 'Cohere'"):
        pn.validate(request)
    request["config"]["tool_selector_endpoint"] = "http://127.0.0.1:9"  # the service runs the model
    assert pn.validate(request).total_runs == 2


def test_schema_decoded_plugin_answers() -> None:
    """The embedded model answers step 1 as JSON under a schema; the same reader takes it."""
    klarna, search = load_plugin(str(KLARNA)), load_plugin(str(WEB_SEARCH))
    assert choose_plugin('{"Thought": "shopping", "Action": "Klarna Shopping"}', (klarna, search)) == (True, klarna)
    assert choose_plugin('{"Thought": "chat", "Action": "none"}', (klarna, search)) == (True, None)
    assert choose_plugin('{"Thought": "Klarna Shopping or Imprompt Web Search"}', (klarna, search)) == (False, None)
