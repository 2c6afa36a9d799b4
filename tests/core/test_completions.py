"""Provider ``OpenAI`` (legacy completions): selection by prompt against the scripted server."""

from __future__ import annotations

from typing import Any

import pytest

import permutate_nb as pn
from permutate_nb.errors import ConfigurationError

from ..helpers import PRODUCTS_URL, klarna_request


def completion_request(server: Any, **config: Any) -> dict[str, Any]:
    request = klarna_request(base_url=server.base_url, model="gpt-3.5-turbo-instruct", cache=False, **config)
    request["permutations"][0]["llm"].update(provider="OpenAI", max_tokens=64, best_of=1)
    return request


def test_method_url_answers_are_scored(scripted: Any) -> None:
    scripted.set_script({"rules": [
        {"match": "Request: Show me", "responses": [{"text": f" GET {PRODUCTS_URL}"}]},
        {"match": "Request: Find", "responses": [{"text": f" GET {PRODUCTS_URL}?q=T%20shirt&size=5\n"}]},
    ]})
    result = pn.run(completion_request(scripted))
    first, second = result.details
    assert first.passed and first.plugin_parameters_mapped == {}
    assert second.passed and second.plugin_parameters_mapped == {"q": "T shirt", "size": 5}
    assert second.permutation_summary == "OpenAI[gpt-3.5-turbo-instruct] - OpenAI[default]"
    assert first.llm_api_cost is not None and first.llm_api_cost > 0  # gpt-3.5-turbo-instruct is priced
    body = scripted.requests[0]["json"]
    assert scripted.requests[0]["path"] == "/v1/completions" and "messages" not in body
    assert body["max_tokens"] == 64 and body["best_of"] == 1 and body["temperature"] == 0
    assert f"GET {PRODUCTS_URL} - API for fetching Klarna product information" in body["prompt"]


def test_unusable_answers_complete_with_a_note(scripted: Any) -> None:
    scripted.set_script({"rules": [{"responses": [{"text": "I would search for shirts."}]}]})
    row = pn.run(completion_request(scripted)).details[0]
    assert row.is_run_completed and not row.is_plugin_detected
    assert row.raw_response == "I would search for shirts." and "METHOD URL" in (row.error or "")


def test_completion_models_cannot_call_tools_in_langchain() -> None:
    pytest.importorskip("langchain_openai")
    request = klarna_request()
    request["permutations"][0]["llm"]["provider"] = "OpenAI"
    request["permutations"][0]["tool_selector"] = {"provider": "Langchain", "pipeline_name": "tool-calling",
                                                   "plugin_group_name": "klarna"}
    with pytest.raises(ConfigurationError, match="has no tool calling"):
        pn.validate(request)
