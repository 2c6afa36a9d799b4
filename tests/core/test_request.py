"""Request loading: both documented forms, validation messages with field paths and lines."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest

from permutate_nb import PermutateWarning, RequestError, load_request
from permutate_nb.core.request.models import normalise

from ..helpers import DOCS_FLAT_YAML, KLARNA, klarna_request


def test_flat_yaml_form_of_the_docs() -> None:
    request = load_request(DOCS_FLAT_YAML)
    assert request.name == "klarna_plugin_test"
    assert [g.name for g in request.plugin_groups] == ["my_group1", "my_group2"]
    assert [p.manifest_url for p in request.plugin_groups[1].plugins][1].endswith("Imprompt_Web_Search.json")
    assert request.permutations[2].summary() == "OpenAIChat[gpt-3.5-turbo-0613] - Langchain[zero-shot-react-description]"
    assert request.test_cases[1].expected_parameters == {"q": "T shirt", "size": 5}


def test_nested_and_plain_forms_equal_flat() -> None:
    flat = load_request(DOCS_FLAT_YAML)
    plain = flat.to_dict()
    nested = dict(plain)
    nested["plugin_groups"] = [
        {"plugin_group": {**g, "plugins": [{"plugin": p} for p in g["plugins"]]}} for g in plain["plugin_groups"]
    ]
    nested["permutations"] = [{"permutation": p} for p in plain["permutations"]]
    nested["test_cases"] = [{"test_case": t} for t in plain["test_cases"]]
    assert load_request(nested) == flat
    assert load_request(plain) == flat
    assert load_request(json.dumps(nested)) == flat


def test_unknown_field_names_path_and_line() -> None:
    text = DOCS_FLAT_YAML.replace("    expected_parameters:\n", "    expected_paramters:\n")
    with pytest.raises(RequestError) as info:
        load_request(text)
    message = str(info.value)
    assert "test_cases[1].expected_paramters: unknown field" in message
    line = next(i for i, l in enumerate(text.splitlines(), 1) if "expected_paramters" in l)
    assert f"line {line}" in message


def test_missing_field_and_bad_type() -> None:
    text = DOCS_FLAT_YAML.replace("    prompt: Show me 5 T shirts from Klarna\n", "", 1)
    with pytest.raises(RequestError, match=r"test_cases\[0\]\.prompt: missing required field"):
        load_request(text)
    text = DOCS_FLAT_YAML.replace("type: plugin_selector", "type: plugin_chooser")
    with pytest.raises(RequestError, match="unknown test case type 'plugin_chooser': use one of plugin_selector, api_signature_selector"):
        load_request(text)


def test_unknown_group_lists_known_ones() -> None:
    data = klarna_request()
    data["permutations"][0]["tool_selector"]["plugin_group_name"] = "nope"
    with pytest.raises(RequestError, match=r"permutations\[0\]\.tool_selector\.plugin_group_name: unknown plugin group 'nope'; known groups: klarna"):
        load_request(data)


def test_duplicate_names_and_missing_expected_parameters() -> None:
    data = klarna_request()
    data["test_cases"].append(dict(data["test_cases"][0]))
    with pytest.raises(RequestError, match=r"test_cases\[\d\]\.name: duplicate name"):
        load_request(data)
    data = klarna_request()
    data["test_cases"][1].pop("expected_parameters")
    with pytest.raises(RequestError, match="needs expected_parameters"):
        load_request(data)


def test_invalid_yaml_gives_line_and_column() -> None:
    with pytest.raises(RequestError, match=r"invalid YAML at line 2, column 8: mapping values"):
        load_request("name: x\nother: : y\nplugin_groups: []\n")


def test_relative_paths_resolve_against_the_request_file(tmp_path: Path) -> None:
    folder = tmp_path / "req"
    folder.mkdir()
    data = klarna_request(manifest="plugins/klarna.json")
    (folder / "job.yaml").write_text(json.dumps(data))
    request = load_request(folder / "job.yaml")
    expected = str((folder / "plugins/klarna.json").resolve())
    assert request.plugin_groups[0].plugins[0].manifest_url == expected
    assert request.test_cases[0].expected_plugin_used == expected


def test_config_defaults_and_unknown_keys_warn() -> None:
    data = klarna_request()
    data["config"] = {"concurency": 3}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        request = load_request(data)
    assert any("config.concurency is not a known setting" in str(w.message) for w in caught)
    assert all(issubclass(w.category, PermutateWarning) for w in caught)
    c = request.config
    assert (c.concurrency, c.max_retries, c.timeout_sec, c.cache, c.repeats) == (8, 3, 60.0, True, 1)
    assert c.auto_translate_to_languages == ["English"]


def test_missing_file_is_a_request_error(tmp_path: Path) -> None:
    with pytest.raises(RequestError, match="request file not found"):
        load_request(tmp_path / "nope.yaml")


def test_normalise_leaves_plain_form_alone() -> None:
    data = klarna_request()
    assert normalise(data) == data
    assert KLARNA.exists()


def test_1_0_0_test_cases_without_type_are_inferred_with_one_warning() -> None:
    data = klarna_request()
    for case in data["test_cases"]:
        del case["type"]
    with pytest.warns(PermutateWarning, match=r"2 test case\(s\) without type \(the 1.0.0 format\)") as caught:
        request = load_request(data)
    assert len([w for w in caught if issubclass(w.category, PermutateWarning)]) == 1
    assert [c.type for c in request.test_cases] == ["plugin_selector", "api_signature_selector"]
    assert "type" not in data["test_cases"][0]  # the caller's dict is left alone


def test_parameter_matching_job_default_and_per_case() -> None:
    data = klarna_request(parameter_matching="strict")
    data["test_cases"][1]["parameter_matching"] = "bfcl"
    request = load_request(data)
    assert [request.matching_mode(c) for c in request.test_cases] == ["strict", "bfcl"]
    assert load_request(klarna_request()).matching_mode(request.test_cases[0]) == "lenient"
    data["test_cases"][1]["parameter_matching"] = "loose"
    with pytest.raises(RequestError, match=r"test_cases\[1\]\.parameter_matching: Input should be 'lenient', 'strict' or 'bfcl'"):
        load_request(data)


def test_unknown_matcher_is_a_validation_error_naming_its_path() -> None:
    data = klarna_request()
    data["test_cases"][1]["expected_parameters"] = {"q": {"words": [{"$oneof": ["a"]}]}, "size": 5}
    with pytest.raises(RequestError, match=r"test_cases\[1\]\.expected_parameters: .*q\.words\[0\]\.\$oneof: unknown matcher"):
        load_request(data)


_HONEST = """\
name: x
plugin_groups: [{name: g, plugins: [{manifest_url: /tmp/k.json}]}]
permutations: [{name: p, llm: {model_name: m, temperature: 0, max_tokens: 5}, tool_selector: {plugin_group_name: g}}]
test_cases: [{name: c, type: plugin_selector, prompt: hi, expected_plugin_used: /tmp/k.json, expected_api_used: u}]
"""


@pytest.mark.parametrize("change, message", [
    (("temperature: 0", "temperature: .nan"), "permutations[0].llm.temperature: Input should be a finite number"),
    (("temperature: 0", "temperature: .inf"), "permutations[0].llm.temperature: Input should be a finite number"),
    (("max_tokens: 5", "max_tokens: 0"), "permutations[0].llm.max_tokens: Input should be greater than or equal to 1"),
    (("name: x", "name: ''"), "name: the name is empty"),
    (("name: c,", "name: '  ',"), "test_cases[0].name: the name is empty"),
])
def test_what_cannot_be_honest_is_refused(change: tuple[str, str], message: str) -> None:
    with pytest.raises(RequestError, match=re.escape(message)):
        load_request(_HONEST.replace(*change, 1))


@pytest.mark.parametrize("text, message", [
    ('{"name": "a", "name": "b"}', "duplicate key 'name'"),
    ('{"name": "x", "config": {"timeout_sec": NaN}}', "NaN is not a JSON number"),
    ('{"name": "\\ud800"}', "lone surrogate"),
    ('{"a": ' + "[" * 300 + "]" * 300 + "}", "nested deeper than 200 levels"),
])
def test_json_requests_are_read_strictly(text: str, message: str) -> None:
    with pytest.raises(RequestError, match=re.escape(message)):
        load_request(text)
