"""Pure parts of the selectors: operation calls, prompt answers, ReAct replies, remote replies."""

from __future__ import annotations

import json

import pytest

from permutate_nb.core.plugins.execute import build_call
from permutate_nb.core.plugins.fetch import default_url_map
from permutate_nb.core.plugins.loader import PluginLoader
from permutate_nb.core.plugins.openapi import Operation
from permutate_nb.core.plugins.tools import build_toolset
from permutate_nb.core.selectors.base import Selection
from permutate_nb.core.selectors.prompt_selector import build_prompt, parse_answer
from permutate_nb.core.selectors.remote import selection_from_reply
from permutate_nb.errors import ProviderError

from ..helpers import KLARNA, PRODUCTS_URL

lc = pytest.importorskip("permutate_nb.core.selectors.langchain_agent")

ITEM = Operation(
    plugin_id="p", plugin_name="Shop", method="POST", url="https://api.example.com/v1/items/{item_id}/notes",
    path="/v1/items/{item_id}/notes", operation_id="addNote", summary="Add a note", description="",
    parameters={"type": "object", "properties": {"item_id": {"type": "integer"}, "dry_run": {"type": "boolean"},
                                                   "X-Trace": {"type": "string"}, "text": {"type": "string"}}},
    locations={"item_id": "path", "dry_run": "query", "X-Trace": "header", "text": "body"},
)


@pytest.fixture
def klarna_tools():  # type: ignore[no-untyped-def]
    return build_toolset([PluginLoader(default_url_map()).load(str(KLARNA))])


def test_build_call_puts_arguments_where_the_spec_says() -> None:
    call = build_call(ITEM, {"item_id": "a/b", "dry_run": True, "X-Trace": 7, "text": "hi", "extra": [1]})
    assert call.url == "https://api.example.com/v1/items/a%2Fb/notes"
    assert call.params == {"dry_run": "true"} and call.headers == {"X-Trace": "7"}
    assert call.json_body == {"text": "hi", "extra": [1]}  # unknown argument of a POST: the body


def test_build_call_refuses_a_missing_path_parameter() -> None:
    with pytest.raises(ValueError, match="'item_id' has no value"):
        build_call(ITEM, {"text": "hi"})


def test_prompt_lists_operations_as_method_url(klarna_tools) -> None:  # type: ignore[no-untyped-def]
    prompt = build_prompt(klarna_tools, "Find 5 T shirts")
    assert f"GET {PRODUCTS_URL} - API for fetching Klarna product information (q, size, min_price, max_price)" in prompt
    assert prompt.rstrip().endswith("Answer:") and "Request: Find 5 T shirts" in prompt


@pytest.mark.parametrize(("answer", "arguments"), [
    (f"GET {PRODUCTS_URL}?q=T%20shirt&size=5", {"q": "T shirt", "size": 5}),
    (f" get {PRODUCTS_URL}/?q=T+shirt&max_price=20.", {"q": "T shirt", "max_price": 20}),
    (f"The call is `GET {PRODUCTS_URL}?q=laptop&size=x`.", {"q": "laptop", "size": "x"}),
    ('{"name": "productsUsingGET", "arguments": {"q": "T shirt"}}', {"q": "T shirt"}),
])
def test_parse_answer(klarna_tools, answer: str, arguments: dict) -> None:  # type: ignore[no-untyped-def]
    sel = parse_answer(klarna_tools, answer, Selection())
    assert (sel.url, sel.method, sel.arguments, sel.note) == (PRODUCTS_URL, "GET", arguments, None)
    assert sel.plugin_name == "Klarna Shopping"


def test_parse_answer_misses_are_notes(klarna_tools) -> None:  # type: ignore[no-untyped-def]
    for answer in ("POST " + PRODUCTS_URL, "GET https://elsewhere.example.com/products", "I don't know"):
        sel = parse_answer(klarna_tools, answer, Selection())
        assert sel.url is None and sel.raw_response == answer and "no operation" in (sel.note or "")


def test_parse_answer_path_templates() -> None:
    toolset = build_toolset([])
    toolset.by_name["addNote"] = ITEM
    sel = parse_answer(toolset, "POST https://api.example.com/v1/items/42/notes?dry_run=true", Selection())
    assert sel.arguments == {"item_id": "42", "dry_run": True} and sel.url == ITEM.url


@pytest.mark.parametrize(("reply", "parsed"), [
    ('I should search.\nAction: productsUsingGET\nAction Input: {"q": "T shirt", "size": 5}',
     ("action", "productsUsingGET", '{"q": "T shirt", "size": 5}')),
    ("Look it up\nAction: `productsUsingGET`\nAction Input: laptop\nObservation: made up\nFinal Answer: x",
     ("action", "productsUsingGET", "laptop")),
    ("I now know the final answer\nFinal Answer: Five shirts.", ("final", "Five shirts.", "")),
    ("no format at all", None),
])
def test_parse_react(reply: str, parsed: tuple | None) -> None:
    assert lc.parse_react(reply) == parsed


def test_react_arguments(klarna_tools) -> None:  # type: ignore[no-untyped-def]
    op = klarna_tools.by_name["productsUsingGET"]
    assert lc.react_arguments('{"q": "T shirt"} trailing', op) == {"q": "T shirt"}
    assert lc.react_arguments('```json\n{"q": "x"}\n```', op) == {"q": "x"}
    assert lc.react_arguments("T shirt", op) is None  # four arguments: a bare value is ambiguous
    single = Operation("p", "P", "GET", "u", "/", None, "", "", {"properties": {"q": {}}}, {"q": "query"})
    assert lc.react_arguments("'T shirt'", single) == {"q": "T shirt"}


def test_remote_reply_fields() -> None:
    plugins = {str(KLARNA): "Klarna Shopping"}
    reply = {"run_completed": True, "final_text_response": "Here you go", "response_time": 1.25, "tokens_used": 321,
             "llm_api_cost": 0.0012, "detected_plugin_operations": [
                 {"plugin": {"manifest_url": str(KLARNA), "name": "Klarna"}, "api_called": PRODUCTS_URL,
                  "method": "get", "mapped_operation_parameters": {"q": "T shirt", "size": 5}}]}
    sel = selection_from_reply(reply, plugins, Selection(), "srv")
    assert (sel.plugin_id, sel.plugin_name, sel.url, sel.method) == (str(KLARNA), "Klarna", PRODUCTS_URL, "GET")
    assert sel.arguments == {"q": "T shirt", "size": 5} and sel.final_output == "Here you go"
    assert (sel.total_tokens, sel.cost, sel.elapsed) == (321, 0.0012, 1.25)
    named = selection_from_reply({"detected_plugin": "Klarna Shopping"}, plugins, Selection(), "srv")
    assert named.plugin_id == str(KLARNA) and named.url is None
    empty = selection_from_reply({"run_completed": True, "detected_plugin_operations": []}, plugins, Selection(), "srv")
    assert empty.note == "the remote selector detected no plugin" and json.loads(empty.raw_response or "")["run_completed"]


@pytest.mark.parametrize(("reply", "message"), [
    ([1, 2], "not an object"),
    ({"run_completed": False, "final_text_response": "model overloaded"}, "run_completed: false (model overloaded)"),
])
def test_remote_reply_failures(reply: object, message: str) -> None:
    with pytest.raises(ProviderError, match=message.replace("(", r"\(").replace(")", r"\)")):
        selection_from_reply(reply, {}, Selection(), "srv")
