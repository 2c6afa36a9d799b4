"""Every real-world manifest and OpenAPI document under tests/data/realworld loads (see its README).

Hosts the manifests point at (localhost:5003, your-app-url.com, klarna.com) are mapped to the
local copies with a UrlMap; the network is never used.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from permutate_nb.core.plugins.fetch import Fetcher, UrlMap
from permutate_nb.core.plugins.loader import Plugin, PluginLoader
from permutate_nb.core.plugins.tools import build_toolset
from permutate_nb.errors import PluginLoadError

# Kept in the repository (byte for byte, licences in its README) so that every clone runs these tests;
# PERMUTATE_REALWORLD points them at another copy.
REALWORLD = Path(os.environ.get("PERMUTATE_REALWORLD") or Path(__file__).resolve().parents[1] / "data" / "realworld")

# The README's mapping table: where each manifest's api.url is served from locally.
URL_MAP = {
    "http://localhost:5003/openapi.yaml": "plugins/todo-quickstart/openapi.yaml",
    "https://www.klarna.com/us/shopping/public/openai/v0/api-docs/": "plugins/klarna/openapi.json",
    "https://your-app-url.com/.well-known/openapi.yaml": "plugins/retrieval-memory/openapi.yaml",
}

# The README's "Ops" column; manifests count the operations of the document they point at.
OPS = {
    "plugins/todo-quickstart/ai-plugin.json": 3,
    "plugins/todo-quickstart/openapi.yaml": 3,
    "plugins/klarna/ai-plugin.json": 1,
    "plugins/klarna/openapi.json": 1,
    "plugins/retrieval-memory/ai-plugin.json": 2,
    "plugins/retrieval-memory/openapi.yaml": 2,
    "plugin-manifests-only/retrieval-auth-no-auth/ai-plugin.json": 2,
    "plugin-manifests-only/retrieval-auth-oauth/ai-plugin.json": 2,
    "plugin-manifests-only/retrieval-auth-service-http/ai-plugin.json": 2,
    "plugin-manifests-only/retrieval-auth-user-http/ai-plugin.json": 2,
    "plugin-specs/quickchart/apispec.json": 4,
    "plugin-specs/wolframalpha/apispec.json": 2,
    "plugin-specs/urlbox/apispec.json": 1,
    "oas-examples/v3.0/petstore.yaml": 3,
    "oas-examples/v3.0/petstore-expanded.yaml": 4,
    "oas-examples/v3.0/uspto.yaml": 3,
    "oas-examples/v3.0/api-with-examples.yaml": 2,
    "oas-examples/v3.0/link-example.yaml": 6,
    "oas-examples/v3.0/callback-example.yaml": 1,
    "oas-examples/v3.1/webhook-example.yaml": 0,
    "oas-examples/v2.0/petstore.json": 3,
    "large/openai/openapi.yaml": 51,
    "large/twilio-voice/twilio_voice_v1.json": 32,
    "large/swagger-petstore-v3/openapi.yaml": 19,
    "large/qdrant/openapi.json": 71,
}
LARGE = ["large/qdrant/openapi.json", "large/openai/openapi.yaml"]
VALID_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
DOCUMENTS = sorted(
    p.relative_to(REALWORLD).as_posix() for p in REALWORLD.rglob("*") if p.suffix in (".json", ".yaml", ".yml")
)


@pytest.fixture(autouse=True)
def _never_fetch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PERMUTATE_URL_MAP", raising=False)

    def no_network(self: Fetcher, url: str) -> tuple[bytes, str | None]:
        raise AssertionError(f"the loader tried to fetch {url}")

    monkeypatch.setattr(Fetcher, "_download", no_network)


def loader(tmp_path: Path) -> PluginLoader:
    return PluginLoader(UrlMap(URL_MAP, base_dir=REALWORLD), cache_dir=tmp_path / "cache")


def load(tmp_path: Path, relative: str) -> Plugin:
    return loader(tmp_path).load(str(REALWORLD / relative))


def by_path(plugin: Plugin, method: str, path: str) -> str:
    (url,) = [o.url for o in plugin.operations if o.method == method and o.path == path]
    return url


def test_readme_table_matches_the_folder() -> None:
    assert set(OPS) <= set(DOCUMENTS), sorted(set(OPS) - set(DOCUMENTS))
    assert sum(v for k, v in OPS.items() if "ai-plugin" not in k) == 208  # README: "208 path operations in all"


@pytest.mark.parametrize("relative", DOCUMENTS)
def test_every_document_loads_or_is_refused_in_one_line(tmp_path: Path, relative: str) -> None:
    try:
        plugin = load(tmp_path, relative)
    except PluginLoadError as exc:  # allowed, but only with a clear one-line reason
        assert relative not in OPS, f"{relative} should load: {exc}"
        assert "\n" not in str(exc) and relative.rsplit("/", 1)[-1] in str(exc)
        return
    if relative in OPS:
        assert len(plugin.operations) == OPS[relative]
    assert plugin.id == str((REALWORLD / relative).resolve())
    assert all(o.plugin_id == plugin.id and o.plugin_name == plugin.name for o in plugin.operations)
    toolset = build_toolset([plugin])
    names = [tool["function"]["name"] for tool in toolset.tools]
    assert all(VALID_NAME.match(n) for n in names), names
    assert len(set(names)) == len(names) == len(plugin.operations)
    assert all(len(tool["function"]["description"]) <= 1024 for tool in toolset.tools)
    for operation in plugin.operations:
        params = operation.parameters
        assert params["type"] == "object" and set(params["required"]) <= set(params["properties"])
        assert set(operation.locations) == set(params["properties"])
        assert set(operation.locations.values()) <= {"path", "query", "header", "body", "form"}


@pytest.mark.parametrize("relative", LARGE)
def test_large_specs_load(tmp_path: Path, relative: str) -> None:
    """Every operation of a large document becomes one tool (the seconds it takes: benchmarks/planning.py)."""
    plugin = loader(tmp_path).load(str(REALWORLD / relative))
    toolset = build_toolset([plugin])
    assert len(plugin.operations) > 50 and len(toolset.tools) == len(plugin.operations)


def test_manifests_use_the_url_map_not_the_network(tmp_path: Path) -> None:
    todo = load(tmp_path, "plugins/todo-quickstart/ai-plugin.json")
    assert todo.name == "TODO List (no auth)" and todo.openapi_location == "http://localhost:5003/openapi.yaml"
    assert by_path(todo, "DELETE", "/todos/{username}") == "http://localhost:5003/todos/{username}"
    assert todo.operations[2].locations == {"username": "path", "todo_idx": "body"}
    klarna = load(tmp_path, "plugins/klarna/ai-plugin.json")
    (products,) = klarna.operations
    assert (klarna.name, products.operation_id, products.url) == (
        "Klarna Shopping", "productsUsingGET", "https://www.klarna.com/us/shopping/public/openai/v0/products")
    assert list(products.parameters["properties"]) == ["q", "size", "min_price", "max_price"]
    assert klarna.description.startswith("Assistant uses the Klarna plugin")


def test_manifest_auth_blocks(tmp_path: Path) -> None:
    kinds = {
        "retrieval-auth-no-auth": "none", "retrieval-auth-oauth": "oauth",
        "retrieval-auth-service-http": "service_http", "retrieval-auth-user-http": "user_http",
    }
    for folder, kind in kinds.items():
        plugin = load(tmp_path, f"plugin-manifests-only/{folder}/ai-plugin.json")
        assert plugin.auth["type"] == kind
        assert [o.url for o in plugin.operations] == [
            "https://your-app-url.com/upsert", "https://your-app-url.com/query"]


def test_server_urls(tmp_path: Path) -> None:
    qdrant = load(tmp_path, "large/qdrant/openapi.json")
    assert all(o.url.startswith("http://localhost:6333/") for o in qdrant.operations)
    assert by_path(qdrant, "GET", "/collections/{collection_name}") == (
        "http://localhost:6333/collections/{collection_name}")
    uspto = load(tmp_path, "oas-examples/v3.0/uspto.yaml")
    assert by_path(uspto, "GET", "/{dataset}/{version}/fields") == (
        "https://developer.uspto.gov/ds-api/{dataset}/{version}/fields")
    petstore3 = load(tmp_path, "large/swagger-petstore-v3/openapi.yaml")
    assert by_path(petstore3, "GET", "/pet/{petId}") == "/v3/pet/{petId}"  # relative server kept for a local file
    assert load(tmp_path, "oas-examples/v2.0/petstore.json").operations[0].url == "http://petstore.swagger.io/v1/pets"
    assert [o.url for o in load(tmp_path, "oas-examples/v3.0/api-with-examples.yaml").operations] == ["/", "/v2"]


def test_relative_server_resolved_against_the_document_url(tmp_path: Path) -> None:
    url = "https://petstore3.swagger.io/api/v3/openapi.json"
    mirrored = PluginLoader(
        UrlMap({url: REALWORLD / "large/swagger-petstore-v3/openapi.yaml"}), cache_dir=tmp_path / "cache"
    ).load(url)
    assert by_path(mirrored, "GET", "/pet/{petId}") == "https://petstore3.swagger.io/v3/pet/{petId}"


def test_twilio_path_level_servers_and_forms(tmp_path: Path) -> None:
    twilio = load(tmp_path, "large/twilio-voice/twilio_voice_v1.json")
    assert all(o.url == "https://voice.twilio.com" + o.path for o in twilio.operations)
    forms = [o for o in twilio.operations if "form" in o.locations.values()]
    assert len(forms) == 12 and all(o.method == "POST" for o in forms)


def test_bodies_of_large_specs(tmp_path: Path) -> None:
    openai = load(tmp_path, "large/openai/openapi.yaml")
    multipart = {o.path for o in openai.operations if "form" in o.locations.values()}
    assert multipart == {
        "/images/edits", "/images/variations", "/audio/transcriptions", "/audio/translations", "/files"}
    chat = next(o for o in openai.operations if o.operation_id == "createChatCompletion")
    assert {"model", "messages"} <= set(chat.parameters["required"])
    assert chat.locations["messages"] == "body"
    petstore3 = load(tmp_path, "large/swagger-petstore-v3/openapi.yaml")
    add_pet = next(o for o in petstore3.operations if o.operation_id == "addPet")
    assert {"name", "photoUrls"} <= set(add_pet.parameters["required"])  # JSON chosen over XML and form
    assert add_pet.locations["name"] == "body"
    expanded = load(tmp_path, "oas-examples/v3.0/petstore-expanded.yaml")
    add = next(o for o in expanded.operations if o.operation_id == "addPet")
    assert add.parameters["required"] == ["name"] and set(add.locations) == {"name", "tag"}


def test_operations_without_ids_get_method_path_names(tmp_path: Path) -> None:
    quickchart = build_toolset([load(tmp_path, "plugin-specs/quickchart/apispec.json")])
    assert quickchart.names == ["get_chart", "post_chart", "get_qr", "post_qr"]
    callbacks = build_toolset([load(tmp_path, "oas-examples/v3.0/callback-example.yaml")])
    assert callbacks.names == ["post_streams"]


def test_webhook_only_document_has_no_operations(tmp_path: Path) -> None:
    plugin = load(tmp_path, "oas-examples/v3.1/webhook-example.yaml")
    assert plugin.operations == [] and build_toolset([plugin]).tools == []


def test_one_toolset_over_everything_has_unique_names(tmp_path: Path) -> None:
    shared = loader(tmp_path)
    plugins = [shared.load(str(REALWORLD / rel)) for rel in OPS]
    toolset = build_toolset(plugins)
    assert len(toolset.tools) == sum(OPS.values())
    assert len(set(toolset.names)) == len(toolset.names) and all(VALID_NAME.match(n) for n in toolset.names)
