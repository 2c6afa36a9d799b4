"""The embedded model behind LangChain and behind test-case generation: offline, end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import permutate_nb as pn
from permutate_nb.cli import main

from ..helpers import KLARNA, PRODUCTS_URL, klarna_request

pytest.importorskip("langchain_openai")


def test_langchain_tool_calling_on_the_local_model() -> None:
    request = klarna_request(cache=False)
    request["permutations"][0]["llm"] = {"provider": "local", "temperature": 0, "max_tokens": 96}
    request["permutations"][0]["tool_selector"] = {"provider": "Langchain", "pipeline_name": "tool-calling",
                                                   "plugin_group_name": "klarna"}
    request["test_cases"] = request["test_cases"][1:]
    (row,) = pn.run(request).details
    assert row.is_run_completed, row.error
    assert row.permutation_summary == "local[SmolLM2-135M-Instruct] - Langchain[tool-calling]"
    # the group has one tool and the schema only admits its name: the first step is that call
    assert row.plugin_operation == PRODUCTS_URL and row.is_plugin_operation_found
    (step,) = row.intermediate_steps or []
    assert step["tool"] == "productsUsingGET" and isinstance(step["tool_input"], dict)
    assert row.prompt_tokens > 0 and row.llm_api_cost == 0.0 and row.attempts == 1


def test_generate_offline_with_the_local_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cases.yaml"
    assert main(["generate", str(KLARNA), "--provider", "local", "--per-operation", "1", "--no-cache",
                 "--output", str(out)]) == 0
    (case,) = yaml.safe_load(out.read_text())["test_cases"]
    assert case["name"] == "productsUsingGET_1" and case["expected_api_used"] == PRODUCTS_URL
    assert case["expected_method"] == "get" and case["prompt"]
    pasted: dict[str, Any] = klarna_request()
    pasted["test_cases"] = [case]
    pn.validate(pasted)
