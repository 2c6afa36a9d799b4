"""RequestBuilder driven headless: set values, click buttons, read the request back."""

from __future__ import annotations

from typing import Any

import permutate_nb as pn

from ..helpers import KLARNA, PRODUCTS_URL, WEB_SEARCH

GOOD = {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}}


def _built(base_url: str) -> Any:
    builder = pn.RequestBuilder()
    builder.name.value = "built"
    assert builder.add_plugin(str(KLARNA)).name == "Klarna Shopping"
    assert "GET https://www.klarna.com/us/shopping/public/openai/v0/products" in builder.plugin_list.value
    group = builder.add_group()
    group.name.value = "shop"
    perm = builder.add_permutation()
    perm.model.value = "gpt-4o-mini"
    perm.llm_extra["base_url"] = base_url
    case = builder.add_test_case()
    case.name.value = "shirts"
    case.type.value = "api_signature_selector"
    case.prompt.value = "Show me 5 T shirts"
    label, value = next(o for o in case.operation.options if o[1][1] == PRODUCTS_URL)
    case.operation.value = value
    case.parameters.value = '{"q": "T shirt", "size": 5}'
    return builder


def test_form_builds_the_request(scripted: Any) -> None:
    builder = _built(scripted.base_url)
    request = builder.request
    assert request["plugin_groups"] == [{"name": "shop", "plugins": [{"manifest_url": str(KLARNA)}]}]
    perm = request["permutations"][0]
    assert perm["tool_selector"] == {"provider": "OpenAI", "plugin_group_name": "shop"}
    assert perm["llm"] == {"provider": "OpenAIChat", "model_name": "gpt-4o-mini", "temperature": 0.0, "base_url": scripted.base_url}
    case = request["test_cases"][0]
    assert case == {"name": "shirts", "type": "api_signature_selector", "prompt": "Show me 5 T shirts",
                    "expected_plugin_used": str(KLARNA), "expected_api_used": PRODUCTS_URL, "expected_method": "get",
                    "expected_parameters": {"q": "T shirt", "size": 5}}
    pn.load_request(request)  # valid


def test_validate_and_run_buttons(scripted: Any) -> None:
    scripted.set_script({"rules": [{"responses": [GOOD]}]})
    builder = _built(scripted.base_url)
    builder.validate_button.click()
    builder.run_button.click()
    assert builder.last_result is not None and builder.last_result.summary["overall_accuracy"] == 100.0
    builder.test_cases[0].parameters.value = "[1, 2]"
    builder.validate_button.click()  # an error is shown, not raised
    builder.yaml_button.click()


def test_form_yaml_form_round_trip() -> None:
    source = {
        "version": "2.0.0", "name": "rt",
        "config": {"auto_translate_to_languages": ["English", "Spanish"], "repeats": 2, "concurrency": 4},
        "plugin_groups": [{"name": "g1", "plugins": [{"manifest_url": str(KLARNA)}, {"manifest_url": str(WEB_SEARCH)}]}],
        "permutations": [{"name": "p", "llm": {"provider": "OpenAIChat", "model_name": "gpt-4o", "temperature": 0.2,
                                               "max_tokens": 300, "top_p": 0.9},
                          "tool_selector": {"provider": "OpenAI", "pipeline_name": "default", "plugin_group_name": "g1"}}],
        "test_cases": [{"name": "t", "type": "plugin_selector", "prompt": "Find news", "expected_plugin_used": str(WEB_SEARCH),
                        "expected_api_used": "https://ws.imprompt.ai/api/plugin/web-search/search", "expected_method": "get",
                        "translations": {"Spanish": "Busca noticias"}}],
    }
    builder = pn.RequestBuilder.from_request(source)
    assert builder.request == pn.RequestBuilder.from_request(builder.yaml).request
    assert pn.RequestBuilder.from_request(builder.yaml).yaml == builder.yaml
    assert pn.load_request(builder.request) == pn.load_request(source)
    assert builder.languages.value == ["English", "Spanish"]


def test_bad_manifest_is_reported_in_the_form(tmp_path: Any) -> None:
    builder = pn.RequestBuilder()
    assert builder.add_plugin(str(tmp_path / "missing.json")) is None
    assert "missing.json" in builder.plugin_message.value and builder.plugins == {}


def test_plugins_show_their_names_with_the_url_on_hover() -> None:
    builder = pn.RequestBuilder()
    builder.add_plugin(str(KLARNA))
    builder.add_plugin(str(WEB_SEARCH))
    assert f"<b title='{KLARNA}'>Klarna Shopping</b>" in builder.plugin_list.value
    group = builder.add_group()
    assert group.plugins._options_labels == ("Klarna Shopping", "Imprompt Web Search")  # shown; the values are the URLs
    assert group.plugins.value == (str(KLARNA), str(WEB_SEARCH))
    assert f"Klarna Shopping: {KLARNA}" in group.plugins.tooltip
    assert builder.request["plugin_groups"][0]["plugins"] == [{"manifest_url": str(KLARNA)}, {"manifest_url": str(WEB_SEARCH)}]


def test_rows_wrap_instead_of_cutting_off_the_delete_button(scripted: Any) -> None:
    builder = _built(scripted.base_url)
    for row in (builder.groups[0], builder.permutations[0], builder.test_cases[0]):
        assert row.box.layout.flex_flow == "row wrap" and row.box.children[-1] is row.remove


def test_run_button_can_choose_the_local_model(scripted: Any) -> None:
    builder = _built(scripted.base_url)
    builder.run_provider.value = "local"
    builder.run_button.click()
    assert scripted.requests == []
    assert builder.last_result.details[0].permutation_summary == "local[SmolLM2-135M-Instruct] - OpenAI[default]"
    assert builder.output.outputs[-1]["data"]["text/plain"].startswith(builder.last_result.job_name)


def test_copy_as_yaml_offers_a_permutate_cell(scripted: Any) -> None:
    builder = _built(scripted.base_url)
    builder.yaml_button.click()
    assert builder.cell.startswith("%%permutate --out result\nversion: ")
    assert pn.load_request(builder.cell.split("\n", 1)[1]) == pn.load_request(builder.request)
    assert "builder.to_cell()" in builder.output.outputs[-1]["text"]


WEATHER_TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
                   "required": ["city"]}}}]


def test_a_named_tool_source_is_listed_grouped_and_chosen_like_a_manifest(scripted: Any) -> None:
    scripted.set_script({"rules": [{"responses": [{"tool_call": {"name": "get_weather", "arguments": {"city": "Oslo"}}}]}]})
    builder = pn.RequestBuilder()
    entry = {"name": "weather", "functions": WEATHER_TOOLS}
    assert builder.add_plugin(entry).name == "weather"
    assert "get_weather — Current weather in a city. <span style='color:#666'>(city*, unit)</span>" in builder.plugin_list.value
    group = builder.add_group()
    perm = builder.add_permutation()
    perm.llm_extra["base_url"] = scripted.base_url
    case = builder.add_test_case()
    case.prompt.value = "weather in Oslo?"
    label, value = next(o for o in case.operation.options if o[1][1] == "get_weather")
    assert (label, value) == ("weather: get_weather", ("weather", "get_weather", ""))
    case.operation.value = value
    request = builder.request
    assert request["plugin_groups"] == [{"name": group.name.value, "plugins": [entry]}]
    assert request["test_cases"][0]["expected_plugin_used"] == "weather" and "expected_method" not in request["test_cases"][0]
    result = pn.run(request)
    assert result.summary["overall_accuracy"] == 100.0
    again = pn.RequestBuilder.from_request(request)  # form -> request -> form keeps the source
    assert again.request["plugin_groups"] == request["plugin_groups"] and "weather" in again.plugins
