"""Test-case generation from a plugin's operations and usage examples (scripted server as the LLM)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

import permutate_nb as pn
from permutate_nb.core.jobs.generate import parse_cases, test_cases_yaml
from permutate_nb.errors import PermutateError

from ..helpers import KLARNA, PRODUCTS_URL, klarna_request

REPLY = {"cases": [
    {"prompt": "Find 3 red T shirts", "parameters": {"q": "red T shirt", "size": 3, "colour": "red"}},
    {"prompt": "Show me noise-cancelling headphones", "parameters": {"q": "headphone", "max_price": None}},
    {"prompt": "find 3 red t shirts", "parameters": {}},  # a repeat: dropped
    {"prompt": "What shoes are there?", "parameters": {}},
]}

PETS = {
    "openapi": "3.0.1", "info": {"title": "Pets", "version": "1"}, "servers": [{"url": "https://pets.example.com"}],
    "paths": {
        "/pets": {"get": {"operationId": "listPets", "summary": "List pets",
                          "parameters": [{"name": "kind", "in": "query", "schema": {"type": "string"}}]}},
        "/pets/{id}": {"get": {"operationId": "getPet", "summary": "Get one pet by id",
                               "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]}},
    },
}


def test_cases_from_usage_examples(scripted: Any, tmp_path: Path) -> None:
    scripted.set_script({"rules": [{"responses": [{"text": "```json\n" + json.dumps(REPLY) + "\n```"}]}]})
    out = tmp_path / "cases.yaml"
    cases = pn.generate_test_cases(str(KLARNA), per_operation=3, base_url=scripted.base_url, model="writer",
                                   output=out, cache=False)
    common = {"expected_plugin_used": str(KLARNA), "expected_api_used": PRODUCTS_URL, "expected_method": "get"}
    assert cases == [
        {"name": "productsUsingGET_1", "type": "api_signature_selector", "prompt": "Find 3 red T shirts", **common,
         "expected_parameters": {"q": "red T shirt", "size": 3}},
        {"name": "productsUsingGET_2", "type": "api_signature_selector", "prompt": "Show me noise-cancelling headphones",
         **common, "expected_parameters": {"q": "headphone"}},
        {"name": "productsUsingGET_3", "type": "plugin_selector", "prompt": "What shoes are there?", **common},
    ]
    body = scripted.requests[0]["json"]
    prompt = body["messages"][0]["content"]
    assert body["model"] == "writer" and body["response_format"] == {"type": "json_object"}
    assert "- Show me some T shirts\n- Find me a pair of running shoes under $100" in prompt
    assert "Write 3 new, varied requests" in prompt and "- q (string, required): A precise query" in prompt
    pasted = klarna_request()
    pasted["test_cases"] = yaml.safe_load(out.read_text())["test_cases"]
    assert len(pn.validate(pasted).request.test_cases) == 3  # the block is a valid request section


def test_summaries_stand_in_for_examples_and_plain_lists_work(scripted: Any, tmp_path: Path) -> None:
    spec = tmp_path / "pets.json"
    spec.write_text(json.dumps(PETS))
    scripted.set_script({"rules": [
        {"match": "GET https://pets.example.com/pets/{id}", "responses": [{"text": "1. Show me pet 7\n2. Get pet number 12"}]},
        {"responses": [{"text": json.dumps({"cases": [{"prompt": "List all cats", "parameters": {"kind": "cat"}}]})}]},
    ]})
    cases = pn.generate_test_cases(str(spec), per_operation=2, base_url=scripted.base_url, cache=False)
    assert [(c["name"], c["type"], c["prompt"]) for c in cases] == [
        ("listPets_1", "api_signature_selector", "List all cats"),
        ("getPet_1", "plugin_selector", "Show me pet 7"),
        ("getPet_2", "plugin_selector", "Get pet number 12"),
    ]
    assert cases[1]["expected_api_used"] == "https://pets.example.com/pets/{id}"
    prompts = [r["json"]["messages"][0]["content"] for r in scripted.requests]
    assert any("examples:\n- Get one pet by id" in p.replace("for example:", "examples:") for p in prompts)


def test_failures_are_one_line(scripted: Any, tmp_path: Path) -> None:
    scripted.set_script({"rules": [{"responses": [{"text": ""}]}]})
    with pytest.raises(PermutateError, match="no usable test case for GET"):
        pn.generate_test_cases(str(KLARNA), per_operation=1, base_url=scripted.base_url, cache=False)
    with pytest.raises(PermutateError, match="per_operation must be at least 1"):
        pn.generate_test_cases(str(KLARNA), per_operation=0)
    with pytest.raises(pn.PluginLoadError):
        pn.generate_test_cases(str(tmp_path / "missing.json"), base_url=scripted.base_url)
    with pytest.raises(pn.ConfigurationError, match="unknown provider 'Cohere'"):
        pn.generate_test_cases(str(KLARNA), provider="Cohere")


def test_parse_cases_shapes() -> None:
    assert parse_cases('[{"prompt": "a", "parameters": {"x": 1}}, "b", {"nope": 1}]') == [("a", {"x": 1}), ("b", {})]
    assert parse_cases("Here you go:\n- first one\n* second one\n") == [("first one", {}), ("second one", {})]


def test_yaml_block_is_indented_and_commented() -> None:
    text = test_cases_yaml([{"name": "a", "type": "plugin_selector"}], comment="made by a test")
    assert text == "# made by a test\ntest_cases:\n  - name: a\n    type: plugin_selector\n"


def test_cli_generate(scripted: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from permutate_nb.cli import main

    scripted.set_script({"rules": [{"responses": [{"text": json.dumps(REPLY)}]}]})
    args = ["generate", str(KLARNA), "--per-operation", "2", "--base-url", scripted.base_url, "--model", "m"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"# permutate generate {KLARNA}: 2 test cases by OpenAIChat[m]\ntest_cases:\n  - name: productsUsingGET_1")
    assert main([*args, "--output", str(tmp_path / "cases.yaml")]) == 0
    assert capsys.readouterr().out == f"wrote 2 test cases to {tmp_path / 'cases.yaml'}\n"
    assert yaml.safe_load((tmp_path / "cases.yaml").read_text())["test_cases"][1]["prompt"].startswith("Show me")
    assert main(["generate", str(tmp_path / "none.json"), "--base-url", scripted.base_url]) == 2
    assert main(["generate", str(KLARNA), "--per-operation", "0"]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 2 and errors[0].startswith("permutate: error: ") and "--per-operation: 0 must be 1 or more" in errors[1]
