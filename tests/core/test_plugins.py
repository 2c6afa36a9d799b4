"""Manifests and OpenAPI documents -> Plugin / Operation, on small documents written per test."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml

from permutate_nb.core.plugins import fetch
from permutate_nb.core.plugins.fetch import Fetcher, UrlMap
from permutate_nb.core.plugins.loader import Operation, Plugin, PluginLoader, load_plugin
from permutate_nb.core.plugins.openapi import RefResolver
from permutate_nb.errors import PermutateWarning, PluginLoadError


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests never use the network: every download fails as if offline."""
    monkeypatch.delenv("PERMUTATE_URL_MAP", raising=False)

    def no_network(self: Fetcher, url: str) -> tuple[bytes, str | None]:
        raise fetch._error(f"cannot fetch {url}: offline (tests never use the network)", "offline")

    monkeypatch.setattr(Fetcher, "_download", no_network)


def write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".json":
        path.write_text(json.dumps(data), encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def oas3(paths: dict, **extra: Any) -> dict:
    return {"openapi": "3.0.1", "info": {"title": "Test API", "version": "1", "description": "Info text"},
            "paths": paths, **extra}


def load(tmp_path: Path, doc: dict, name: str = "openapi.yaml", **kwargs: Any) -> Plugin:
    return PluginLoader(cache_dir=tmp_path / "cache", **kwargs).load(str(write(tmp_path / name, doc)))


def op(plugin: Plugin, method: str, path: str) -> Operation:
    matches = [o for o in plugin.operations if o.method == method and o.path == path]
    assert len(matches) == 1, [(o.method, o.path) for o in plugin.operations]
    return matches[0]


# --------------------------------------------------------------------------- kinds of document

def test_bare_openapi_document(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "api" / "openapi.yaml", oas3(
        {"/books/{isbn}": {"get": {"operationId": "getBook", "summary": "Get a book",
                                   "parameters": [{"name": "isbn", "in": "path", "schema": {"type": "string"}}]}}},
        servers=[{"url": "https://api.example.com/v1/"}],
    ))
    monkeypatch.chdir(tmp_path)
    plugin = PluginLoader(cache_dir=tmp_path / "cache").load("api/openapi.yaml")
    expected_id = str((tmp_path / "api" / "openapi.yaml").resolve())
    assert plugin.id == expected_id and plugin.openapi_location == expected_id
    assert (plugin.name, plugin.description, plugin.manifest, plugin.auth) == (
        "Test API", "Info text", {}, {"type": "none"})
    (book,) = plugin.operations
    assert book == Operation(
        plugin_id=expected_id, plugin_name="Test API", method="GET",
        url="https://api.example.com/v1/books/{isbn}", path="/books/{isbn}", operation_id="getBook",
        summary="Get a book", description="",
        parameters={"type": "object", "properties": {"isbn": {"type": "string"}}, "required": ["isbn"]},
        locations={"isbn": "path"},
    )


def test_openai_manifest_with_relative_api_url(tmp_path: Path) -> None:
    write(tmp_path / "p" / "openapi.json", oas3({"/todos": {"get": {"operationId": "list"}}}))
    manifest = write(tmp_path / "p" / "ai-plugin.json", {
        "schema_version": "v1", "name_for_human": "TODO", "name_for_model": "todo",
        "description_for_model": "Manage todos.", "description_for_human": "Todos",
        "auth": {"type": "user_http", "authorization_type": "bearer"},
        "api": {"type": "openapi", "url": "openapi.json"},
    })
    plugin = load_plugin(str(manifest), cache_dir=tmp_path / "cache")
    assert plugin.id == str(manifest.resolve())
    assert plugin.openapi_location == str((tmp_path / "p" / "openapi.json").resolve())
    assert (plugin.name, plugin.description) == ("TODO", "Manage todos.")
    assert plugin.auth == {"type": "user_http", "authorization_type": "bearer"}
    assert plugin.manifest["name_for_model"] == "todo"
    assert [o.plugin_id for o in plugin.operations] == [plugin.id]
    assert plugin.operations[0].plugin_name == "TODO"


def test_manifest_over_http_resolves_api_url_against_manifest_url(tmp_path: Path) -> None:
    """Served from a mirror folder: the relative api.url and relative server are joined to the URL."""
    site = tmp_path / "site"
    write(site / ".well-known" / "ai-plugin.json", {
        "name_for_human": "Site", "description_for_model": "d", "api": {"type": "openapi", "url": "/openapi.yaml"}})
    write(site / "openapi.yaml", oas3({"/pets": {"get": {}}}, servers=[{"url": "/v3"}]))
    loader = PluginLoader(UrlMap({"https://plugins.test/": site}), cache_dir=tmp_path / "cache")
    plugin = loader.load("https://plugins.test/.well-known/ai-plugin.json")
    assert plugin.id == "https://plugins.test/.well-known/ai-plugin.json"
    assert plugin.openapi_location == "https://plugins.test/openapi.yaml"
    assert plugin.operations[0].url == "https://plugins.test/v3/pets"


def test_openplugin_manifest_attaches_hints(tmp_path: Path) -> None:
    write(tmp_path / "spec.json", oas3({
        "/search/": {"get": {"operationId": "search", "summary": "Search"}, "post": {"operationId": "other"}}}))
    manifest = write(tmp_path / "plugin.json", {
        "schema_version": "v1", "name": "Searcher", "description": "Finds things.",
        "openapi_doc_url": "spec.json",
        "plugin_operations": {"/search": {"get": {
            "human_usage_examples": ["find cats", "look up dogs"],
            "prompt_helpers": ["Use q."], "plugin_signature_helpers": ["q is text."],
            "prompt_signature_helpers": ["q is short."]}}},
    })
    plugin = PluginLoader(cache_dir=tmp_path / "cache").load(str(manifest))
    assert (plugin.name, plugin.description) == ("Searcher", "Finds things.")
    get, post = plugin.operations
    assert get.human_usage_examples == ("find cats", "look up dogs")
    assert get.prompt_helpers == ("Use q.", "q is text.", "q is short.")
    assert post.human_usage_examples == () and post.prompt_helpers == ()


def test_openplugin_hint_for_unknown_operation_warns(tmp_path: Path) -> None:
    write(tmp_path / "spec.json", oas3({"/a": {"get": {}}}))
    manifest = write(tmp_path / "plugin.json", {"name": "P", "openapi_doc_url": "spec.json",
                                                "plugin_operations": {"/b": {"get": {"human_usage_examples": ["x"]}}}})
    with pytest.warns(PermutateWarning, match="GET /b, which is not in the OpenAPI document"):
        PluginLoader(cache_dir=tmp_path / "cache").load(str(manifest))


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"name": "x"}, "not a plugin manifest or OpenAPI document"),
        ({"api": {"type": "graphql", "url": "x"}}, "api.type 'graphql' is not supported"),
        ({"api": {"type": "openapi"}}, "api.url is missing"),
        ({"swagger": "1.2"}, "Swagger version 1.2 is not supported"),
        ({"openapi": "4.0.0"}, "OpenAPI version 4.0.0 is not supported"),
        ({"openapi": "3.0.0", "paths": []}, "'paths' must be a mapping"),
    ],
)
def test_unusable_documents_are_refused_in_one_line(tmp_path: Path, doc: dict, message: str) -> None:
    path = write(tmp_path / "doc.json", doc)
    with pytest.raises(PluginLoadError, match=message) as info:
        PluginLoader(cache_dir=tmp_path / "cache").load(str(path))
    assert str(path.resolve()) in str(info.value) and "\n" not in str(info.value)


def test_manifest_pointing_to_non_openapi_document(tmp_path: Path) -> None:
    write(tmp_path / "spec.json", {"hello": "world"})
    manifest = write(tmp_path / "ai-plugin.json", {"api": {"type": "openapi", "url": "spec.json"}})
    with pytest.raises(PluginLoadError, match="spec.json: not an OpenAPI document"):
        PluginLoader(cache_dir=tmp_path / "cache").load(str(manifest))


def test_manifest_with_missing_spec_names_both(tmp_path: Path) -> None:
    manifest = write(tmp_path / "ai-plugin.json", {"api": {"type": "openapi", "url": "gone.yaml"}})
    with pytest.raises(PluginLoadError, match=r"gone\.yaml.*ai-plugin\.json"):
        PluginLoader(cache_dir=tmp_path / "cache").load(str(manifest))


def test_loader_memoises_per_location(tmp_path: Path) -> None:
    path = write(tmp_path / "openapi.yaml", oas3({"/a": {"get": {}}}))
    loader = PluginLoader(cache_dir=tmp_path / "cache")
    first = loader.load(str(path))
    write(path, oas3({"/a": {"get": {}}, "/b": {"get": {}}}))
    assert loader.load(str(path)) is first and len(first.operations) == 1
    by_uri = loader.load(path.as_uri())  # another location string: loaded afresh, kept as given
    assert by_uri.id == path.as_uri() and len(by_uri.operations) == 2


# --------------------------------------------------------------------------- OpenAPI 3

def test_parameters_merge_skip_cookie_and_standard_headers(tmp_path: Path) -> None:
    plugin = load(tmp_path, oas3({"/items/{id}": {
        "parameters": [
            {"name": "id", "in": "path", "required": True, "description": "path level", "schema": {"type": "string"}},
            {"name": "verbose", "in": "query", "schema": {"type": "boolean"}},
        ],
        "get": {"parameters": [
            {"name": "id", "in": "path", "required": True, "description": "operation level",
             "schema": {"type": "integer"}},
            {"name": "session", "in": "cookie", "schema": {"type": "string"}},
            {"name": "Authorization", "in": "header", "schema": {"type": "string"}},
            {"name": "X-Trace", "in": "header", "required": True, "schema": {"type": "string"}},
            {"name": "sort", "in": "query", "schema": {"type": "string", "enum": ["asc", "desc"], "default": "asc"},
             "description": "Order"},
            {"$ref": "#/components/parameters/Limit"},
        ]},
    }}, components={"parameters": {"Limit": {"name": "limit", "in": "query", "required": False,
                                             "schema": {"type": "integer", "default": 10}}}}))
    get = op(plugin, "GET", "/items/{id}")
    props = get.parameters["properties"]
    assert props["id"] == {"type": "integer", "description": "operation level"}
    assert props["sort"] == {"type": "string", "enum": ["asc", "desc"], "default": "asc", "description": "Order"}
    assert props["limit"] == {"type": "integer", "default": 10}
    assert get.locations == {"id": "path", "verbose": "query", "X-Trace": "header", "sort": "query", "limit": "query"}
    assert get.parameters["required"] == ["id", "X-Trace"]


def test_json_body_is_flattened_with_refs_and_all_of(tmp_path: Path) -> None:
    plugin = load(tmp_path, oas3({"/pets": {"post": {
        "requestBody": {"$ref": "#/components/requestBodies/PetBody"}}}}, components={
        "requestBodies": {"PetBody": {"required": True, "content": {
            "application/xml": {"schema": {"type": "string"}},
            "application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}}},
        "schemas": {
            "NewPet": {"type": "object", "required": ["name"], "properties": {
                "name": {"type": "string", "example": "Rex"}, "tag": {"type": "string", "x-internal": True}}},
            "Pet": {"allOf": [{"$ref": "#/components/schemas/NewPet"}, {
                "type": "object", "required": ["id"], "properties": {
                    "id": {"type": "integer", "readOnly": True},
                    "kind": {"type": "string", "enum": ["cat", "dog"]}}}]},
        }}))
    post = op(plugin, "POST", "/pets")
    assert post.parameters == {"type": "object", "properties": {
        "name": {"type": "string"}, "tag": {"type": "string"}, "kind": {"type": "string", "enum": ["cat", "dog"]}},
        "required": ["name"]}
    assert post.locations == {"name": "body", "tag": "body", "kind": "body"}


@pytest.mark.parametrize(
    ("content", "expected_locations", "body_schema"),
    [
        ({"application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": {"a": {"type": "string"}}}}},
         {"a": "form"}, None),
        ({"multipart/form-data": {"schema": {"type": "object", "properties": {
            "file": {"type": "string", "format": "binary"}}}}}, {"file": "form"}, None),
        ({"application/json": {"schema": {"type": "array", "items": {"type": "string"}}}},
         {"body": "body"}, {"type": "array", "items": {"type": "string"}, "description": "The payload"}),
        ({"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
         {"body": "body"}, {"type": "string", "format": "binary", "description": "The payload"}),
        ({"text/plain": {}}, {"body": "body"}, {"type": "string", "description": "The payload"}),
    ],
)
def test_request_body_kinds(tmp_path: Path, content: dict, expected_locations: dict, body_schema: Any) -> None:
    plugin = load(tmp_path, oas3({"/x": {"put": {"requestBody": {
        "required": True, "description": "The payload", "content": content}}}}))
    put = op(plugin, "PUT", "/x")
    assert put.locations == expected_locations
    if body_schema is not None:
        assert put.parameters["properties"]["body"] == body_schema
        assert put.parameters["required"] == ["body"]


def test_boolean_required_inside_properties_is_lifted(tmp_path: Path) -> None:
    plugin = load(tmp_path, oas3({"/t": {"post": {"requestBody": {"content": {"application/json": {"schema": {
        "type": "object", "properties": {"todo": {"type": "string", "required": True},
                                         "note": {"type": "string", "required": False}}}}}}}}}))
    post = op(plugin, "POST", "/t")
    assert post.parameters["properties"] == {"todo": {"type": "string"}, "note": {"type": "string"}}
    assert post.parameters["required"] == ["todo"]


def test_circular_refs_terminate(tmp_path: Path) -> None:
    plugin = load(tmp_path, oas3({"/q": {"post": {"requestBody": {"content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Query"}}}}}}}, components={"schemas": {
            "Query": {"type": "object", "properties": {"filter": {"$ref": "#/components/schemas/Filter"}}},
            "Filter": {"type": "object", "properties": {
                "must": {"type": "array", "items": {"$ref": "#/components/schemas/Condition"}}}},
            "Condition": {"anyOf": [{"$ref": "#/components/schemas/Field"}, {"$ref": "#/components/schemas/Filter"}]},
            "Field": {"type": "object", "properties": {"key": {"type": "string"}}},
        }}))
    flt = op(plugin, "POST", "/q").parameters["properties"]["filter"]
    cond = flt["properties"]["must"]["items"]
    assert cond["anyOf"][0] == {"type": "object", "properties": {"key": {"type": "string"}}}
    assert cond["anyOf"][1]["type"] == "object" and "recursive" in cond["anyOf"][1]["description"]
    json.dumps(plugin.operations[0].parameters)  # finite and serialisable


def test_deep_nesting_is_cut(tmp_path: Path) -> None:
    schemas = {f"L{i}": {"type": "object", "properties": {"next": {"$ref": f"#/components/schemas/L{i + 1}"}}}
               for i in range(12)}
    schemas["L12"] = {"type": "string"}
    doc = oas3({}, components={"schemas": schemas})
    resolver = RefResolver(doc, "doc", max_depth=3)
    schema = resolver.schema({"$ref": "#/components/schemas/L0"})
    assert schema["properties"]["next"]["properties"]["next"]["properties"]["next"]["description"].startswith(
        "L3 (nested too deep")
    assert RefResolver(doc, "doc", max_depth=20).schema({"$ref": "#/components/schemas/L10"}) == {
        "type": "object", "properties": {"next": {"type": "object", "properties": {"next": {"type": "string"}}}}}


def test_ref_siblings_and_escaped_pointers(tmp_path: Path) -> None:
    doc = oas3({}, components={"schemas": {"a/b": {"type": "string"}, "c~d": {"type": "integer"}}})
    resolver = RefResolver(doc, "doc")
    assert resolver.schema({"$ref": "#/components/schemas/a~1b", "description": "d"}) == {
        "type": "string", "description": "d"}
    assert resolver.schema({"$ref": "#/components/schemas/c~0d"}) == {"type": "integer"}


def test_unresolvable_ref_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PluginLoadError, match=r"\$ref '#/components/schemas/Nope' does not resolve"):
        load(tmp_path, oas3({"/a": {"get": {"parameters": [
            {"name": "x", "in": "query", "schema": {"$ref": "#/components/schemas/Nope"}}]}}}))


def test_external_refs_resolve_relative_to_the_document(tmp_path: Path) -> None:
    write(tmp_path / "shared" / "schemas.yaml", {
        "Book": {"type": "object", "properties": {"title": {"type": "string"},
                                                  "author": {"$ref": "#/Author"}}},
        "Author": {"type": "string"}})
    write(tmp_path / "shared" / "params.yaml", {"Q": {"name": "q", "in": "query", "schema": {"type": "string"}}})
    plugin = load(tmp_path, oas3({"/books": {"post": {
        "parameters": [{"$ref": "shared/params.yaml#/Q"}],
        "requestBody": {"content": {"application/json": {"schema": {"$ref": "shared/schemas.yaml#/Book"}}}}}}}),
        name="api.yaml")
    post = plugin.operations[0]
    assert post.locations == {"q": "query", "title": "body", "author": "body"}
    assert post.parameters["properties"]["author"] == {"type": "string"}


def test_missing_external_ref_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(PluginLoadError, match="missing.yaml"):
        load(tmp_path, oas3({"/a": {"get": {"parameters": [{"$ref": "missing.yaml#/P"}]}}}))


def test_external_refs_unsupported_without_loader() -> None:
    with pytest.raises(PluginLoadError, match="external \\$ref 'other.yaml#/X' is not supported"):
        RefResolver({}, "doc").schema({"$ref": "other.yaml#/X"})


def test_server_selection_and_variables(tmp_path: Path) -> None:
    plugin = load(tmp_path, oas3({
        "/a": {"get": {}, "post": {"servers": [{"url": "https://op.example.com"}]}},
        "/b": {"servers": [{"url": "https://path.example.com/base/"}], "get": {}},
    }, servers=[
        {"url": "{protocol}://{host}:{port}/v{major}", "variables": {
            "protocol": {"enum": ["http", "https"], "default": "http"}, "host": {"default": "localhost"},
            "port": {"default": "6333"}, "major": {"enum": ["2", "1"]}}},
        {"url": "https://second.example.com"},
    ]))
    assert op(plugin, "GET", "/a").url == "http://localhost:6333/v2/a"
    assert op(plugin, "POST", "/a").url == "https://op.example.com/a"
    assert op(plugin, "GET", "/b").url == "https://path.example.com/base/b"


def test_relative_and_missing_servers_on_local_files(tmp_path: Path) -> None:
    assert load(tmp_path, oas3({"/p": {"get": {}}}, servers=[{"url": "/v3"}])).operations[0].url == "/v3/p"
    assert load(tmp_path, oas3({"/p": {"get": {}}}), name="other.yaml").operations[0].url == "/p"


def test_missing_and_relative_servers_resolve_against_the_document_url(tmp_path: Path) -> None:
    """OpenAPI 3: no servers means the server "/", and a relative server URL is relative to the document."""
    site = tmp_path / "site"
    write(site / "api" / "none.json", oas3({"/api/info": {"get": {}}}))
    write(site / "api" / "relative.json", oas3({"/info": {"get": {}}}, servers=[{"url": "v3"}]))
    write(site / "api" / "empty.json", oas3({"/info": {"get": {}}}, servers=[]))
    loader = PluginLoader(UrlMap({"https://docs.test/": site}), cache_dir=tmp_path / "cache")
    assert loader.load("https://docs.test/api/none.json").operations[0].url == "https://docs.test/api/info"
    assert loader.load("https://docs.test/api/relative.json").operations[0].url == "https://docs.test/api/v3/info"
    assert loader.load("https://docs.test/api/empty.json").operations[0].url == "https://docs.test/info"


def test_webhooks_and_callbacks_are_not_operations(tmp_path: Path) -> None:
    doc = {"openapi": "3.1.0", "info": {"title": "Hooks", "version": "1"},
           "webhooks": {"newPet": {"post": {"operationId": "newPet"}}}}
    assert load(tmp_path, doc).operations == []
    plugin = load(tmp_path, oas3({"/streams": {"post": {"operationId": "sub", "callbacks": {"onData": {
        "{$request.query.callbackUrl}/data": {"post": {"operationId": "cb"}}}}}}}), name="cb.yaml")
    assert [o.operation_id for o in plugin.operations] == ["sub"]


def test_all_methods_and_summary_fallback(tmp_path: Path) -> None:
    methods = ["get", "put", "post", "delete", "patch", "head", "options", "trace"]
    item: dict[str, Any] = {m: {"description": f"does {m}"} for m in methods}
    item["x-extension"] = {"get": {}}
    plugin = load(tmp_path, oas3({"/r": item, "x-not-a-path": {"get": {}}}))
    assert [o.method for o in plugin.operations] == [m.upper() for m in methods]
    assert plugin.operations[0].summary == plugin.operations[0].description == "does get"
    assert plugin.operations[0].operation_id is None


def test_yaml_dates_and_int_keys_stay_json_safe(tmp_path: Path) -> None:
    path = tmp_path / "dates.yaml"
    path.write_text(
        "openapi: 3.0.0\ninfo: {title: D, version: 1}\npaths:\n  /d:\n    get:\n      parameters:\n"
        "        - name: since\n          in: query\n          schema: {type: string, default: 2024-01-18,"
        " enum: [2024-01-18, 2024-02-01]}\n      responses:\n        200: {description: ok}\n"
    )
    (d,) = PluginLoader(cache_dir=tmp_path / "cache").load(str(path)).operations
    assert d.parameters["properties"]["since"]["default"] == "2024-01-18"
    json.dumps(d.parameters, sort_keys=True)


# --------------------------------------------------------------------------- Swagger 2.0

def test_swagger_2(tmp_path: Path) -> None:
    doc = {
        "swagger": "2.0", "info": {"title": "Old", "version": "1"},
        "host": "api.example.com", "basePath": "/v1", "schemes": ["http", "https"],
        "parameters": {"Auth": {"name": "Authorization", "in": "header", "type": "string"}},
        "definitions": {"Pet": {"type": "object", "required": ["name"],
                                "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}}},
        "paths": {
            "/pets/{petId}": {
                "parameters": [{"name": "petId", "in": "path", "required": True, "type": "string"}],
                "put": {"operationId": "updatePet", "parameters": [
                    {"$ref": "#/parameters/Auth"},
                    {"name": "body", "in": "body", "required": True, "schema": {"$ref": "#/definitions/Pet"}}]},
                "post": {"operationId": "uploadPhoto", "consumes": ["multipart/form-data"], "parameters": [
                    {"name": "photo", "in": "formData", "type": "file", "required": True},
                    {"name": "caption", "in": "formData", "type": "string"},
                    {"name": "tags", "in": "query", "type": "array", "items": {"type": "string"},
                     "collectionFormat": "csv"}]},
                "patch": {"operationId": "renamePet", "parameters": [
                    {"name": "names", "in": "body", "schema": {"type": "array", "items": {"type": "string"}}}]},
            }
        },
    }
    plugin = load(tmp_path, doc, name="swagger.json")
    put, post, patch = (op(plugin, m, "/pets/{petId}") for m in ("PUT", "POST", "PATCH"))
    assert put.url == "https://api.example.com/v1/pets/{petId}"
    assert put.locations == {"petId": "path", "name": "body", "age": "body"}
    assert put.parameters["required"] == ["petId", "name"]
    assert post.locations == {"petId": "path", "photo": "form", "caption": "form", "tags": "query"}
    assert post.parameters["properties"]["photo"] == {"type": "string", "format": "binary"}
    assert post.parameters["properties"]["tags"] == {"type": "array", "items": {"type": "string"}}
    assert patch.locations == {"petId": "path", "body": "body"}


def test_swagger_2_without_host(tmp_path: Path) -> None:
    doc = {"swagger": "2.0", "info": {"title": "S", "version": "1"}, "basePath": "/api", "paths": {"/x": {"get": {}}}}
    assert load(tmp_path, doc, name="s.json").operations[0].url == "/api/x"
    site = tmp_path / "site"
    write(site / "swagger.json", doc)
    loader = PluginLoader(UrlMap({"https://docs.test/": site}), cache_dir=tmp_path / "cache")
    assert loader.load("https://docs.test/swagger.json").operations[0].url == "https://docs.test/api/x"


# --------------------------------------------------------------------------- bundled snapshots

def test_docs_sample_plugins_load_offline_from_snapshots(tmp_path: Path) -> None:
    loader = PluginLoader(cache_dir=tmp_path / "cache")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        klarna = loader.load("https://assistant-management-data.s3.amazonaws.com/Klarna_Shopping.json")
        search = loader.load("https://assistant-management-data.s3.amazonaws.com/Imprompt_Web_Search.json")
    # one line per URL that fell back: two manifests and two OpenAPI documents
    assert len(caught) == 4 and all("using the bundled snapshot" in str(w.message) for w in caught)
    assert klarna.name == "Klarna Shopping"
    assert klarna.description == "Search and compare prices from thousands of online shops. Only available in the US."
    (products,) = klarna.operations
    assert (products.method, products.operation_id, products.url) == (
        "GET", "productsUsingGET", "https://www.klarna.com/us/shopping/public/openai/v0/products")
    assert list(products.parameters["properties"]) == ["q", "size", "min_price", "max_price"]
    assert products.human_usage_examples
    assert search.name == "Imprompt Web Search"
    (web,) = search.operations
    assert web.method == "GET" and web.parameters["required"] == ["q"]
    assert web.parameters["properties"]["num"]["type"] == "integer"
    assert web.human_usage_examples
