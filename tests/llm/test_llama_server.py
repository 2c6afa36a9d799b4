"""OpenAIChat against a real OpenAI-compatible server (llama.cpp's), through both transports.

Asserts the shape and types of the calls, not their content: a 135M model picks poorly.
"""

from __future__ import annotations

from typing import Any

import pytest

import permutate_nb as pn

from ..helpers import klarna_request


def _request(base_url: str, transport: str) -> dict[str, Any]:
    data = klarna_request(base_url=base_url, transport=transport, model="smollm2", cache=False, timeout_sec=120)
    data["permutations"][0]["llm"].update(max_tokens=96, extra_body={"repeat_penalty": 1.0})
    return data


@pytest.mark.parametrize("transport", ["http", "sdk"])
def test_openai_chat_on_llama_cpp_server(llama_server: str, transport: str) -> None:
    result = pn.run(_request(llama_server, transport))
    for row in result.details:
        assert row.is_run_completed, row.error
        assert row.prompt_tokens > 0 and row.completion_tokens > 0
        assert row.llm_api_cost is None  # "smollm2" has no price: unknown, not 0
        if row.plugin_operation is not None:
            assert row.plugin_name == "Klarna Shopping" and row.plugin_method == "GET"
        assert row.plugin_parameters_mapped is None or isinstance(row.plugin_parameters_mapped, dict)
    # tool_choice "auto" is sent explicitly, so the server's function-calling grammar is used
    assert any(row.plugin_operation for row in result.details)




def test_langchain_tool_calling_on_llama_cpp_server(llama_server: str) -> None:
    """ChatOpenAI on llama.cpp's server: with tool_choice sent explicitly, the server calls a tool."""
    pytest.importorskip("langchain_openai")
    data = _request(llama_server, "http")
    data["test_cases"] = data["test_cases"][:1]
    data["permutations"][0]["tool_selector"] = {"provider": "Langchain", "pipeline_name": "tool-calling",
                                                "plugin_group_name": "klarna"}
    (row,) = pn.run(data).details
    assert row.is_run_completed, row.error
    assert row.plugin_operation is not None and row.intermediate_steps and row.intermediate_steps[0]["observation"] is None
    assert 0 < row.completion_tokens <= 96
