"""Operations -> OpenAI tool schemas: valid unique names, descriptions, canonical JSON and digest."""

from __future__ import annotations

import hashlib
import json
import re

from permutate_nb.core.plugins.loader import Operation, Plugin
from permutate_nb.core.plugins.tools import ToolSet, build_toolset, tool_description_for, tool_name_for

VALID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
PARAMS = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}


def make_op(operation_id: str | None = None, method: str = "GET", path: str = "/chart", *,
            plugin: str = "QuickChart", summary: str = "Make a chart", description: str = "") -> Operation:
    return Operation(
        plugin_id=f"https://{plugin.lower()}.test/ai-plugin.json", plugin_name=plugin, method=method,
        url=f"https://{plugin.lower()}.test{path}", path=path, operation_id=operation_id, summary=summary,
        description=description, parameters=PARAMS, locations={"q": "query"},
    )


def make_plugin(*operations: Operation, name: str = "QuickChart") -> Plugin:
    return Plugin(id=f"https://{name.lower()}.test/ai-plugin.json", name=name, description="d", manifest={},
                  openapi_location="x", operations=list(operations), auth={"type": "none"})


def test_names_from_operation_id_are_sanitised() -> None:
    assert tool_name_for(make_op("productsUsingGET")) == "productsUsingGET"
    assert tool_name_for(make_op("list-data-sets")) == "list-data-sets"
    assert tool_name_for(make_op("pets.find by id/{x}")) == "pets_find_by_id__x_"
    assert tool_name_for(make_op("créer")) == "cr_er"


def test_names_without_operation_id_use_method_and_path() -> None:
    assert tool_name_for(make_op(None, "GET", "/chart")) == "get_chart"
    assert tool_name_for(make_op(None, "POST", "/chart")) == "post_chart"
    assert tool_name_for(make_op(None, "DELETE", "/v1/books/{isbn}/")) == "delete_v1_books_isbn"
    assert tool_name_for(make_op(None, "GET", "/")) == "get_root"
    assert tool_name_for(make_op("///", "PUT", "/a.b")) == "put_a_b"


def test_names_are_truncated_to_64() -> None:
    name = tool_name_for(make_op("x" * 100))
    assert name == "x" * 64 and VALID.match(name)


def test_duplicate_names_get_suffixes_within_64_chars() -> None:
    long_id = "y" * 64
    toolset = build_toolset([
        make_plugin(make_op("search"), make_op("search"), make_op(long_id), make_op(long_id)),
        make_plugin(make_op("search", plugin="Other"), make_op("search_2", plugin="Other"), name="Other"),
    ])
    names = [t["function"]["name"] for t in toolset.tools]
    assert names == ["search", "search_2", long_id, "y" * 62 + "_2", "search_3", "search_2_2"]
    assert all(VALID.match(n) for n in names) and len(set(names)) == len(names)
    assert toolset.by_name["search_3"].plugin_name == "Other"
    assert list(toolset.by_name) == names


def test_descriptions_are_prefixed_and_capped() -> None:
    assert tool_description_for(make_op("a")) == "QuickChart: Make a chart"
    assert tool_description_for(make_op("a", summary="S", description="Longer text.")) == "QuickChart: S\nLonger text."
    assert tool_description_for(make_op("a", summary="Same", description="Same")) == "QuickChart: Same"
    assert tool_description_for(make_op("a", plugin="", summary="Only")) == "Only"
    assert tool_description_for(make_op("a", summary="")) == "QuickChart"
    long = tool_description_for(make_op("a", summary="word " * 400))
    assert len(long) == 1024 and long.endswith("…") and long.startswith("QuickChart: word")


def test_toolset_shape_json_and_digest() -> None:
    operation = make_op("productsUsingGET", plugin="Klarna Shopping", summary="Find products")
    toolset = build_toolset([make_plugin(operation, name="Klarna Shopping")])
    assert isinstance(toolset, ToolSet) and len(toolset) == 1 and toolset.names == ["productsUsingGET"]
    assert toolset.tools == [{"type": "function", "function": {
        "name": "productsUsingGET", "description": "Klarna Shopping: Find products", "parameters": PARAMS}}]
    assert toolset.by_name == {"productsUsingGET": operation}
    assert toolset.tools_json == json.dumps(toolset.tools, separators=(",", ":"), sort_keys=True)
    assert toolset.digest == hashlib.sha256(toolset.tools_json.encode()).hexdigest()


def test_operations_are_hashable() -> None:
    assert len({make_op("a"), make_op("a"), make_op("b")}) == 2


def test_digest_is_stable_and_order_sensitive() -> None:
    a, b = make_op("a"), make_op("b")
    first = build_toolset([make_plugin(a, b)])
    assert build_toolset([make_plugin(a, b)]).digest == first.digest
    assert build_toolset([make_plugin(b, a)]).digest != first.digest
    assert build_toolset([]).tools_json == "[]"
