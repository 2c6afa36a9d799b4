"""DNS rebinding on ``permutate serve``: a name that is public when checked and 127.0.0.1 when connected.

The double sits at the DNS boundary (``socket.getaddrinfo``) and answers only for ``rebind.test``:

- ``connect``: a check asks for the name alone (port 0) and gets a public address; a connection asks
  for name and port and gets 127.0.0.1: the moment a rebinding attacker aims for.
- ``second``: the first question gets the public address, every later one 127.0.0.1.

Behind 127.0.0.1 is a real ``HostileService`` that must see no request, on every fetch path: the
manifest, an OpenAPI ``$ref``, and the operation ``execute_operations`` calls.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from permutate_nb.testing.hostile_service import CANARY, HostileService
from tests.helpers import klarna_request

from .conftest import LiveServer

HOST = "rebind.test"
PUBLIC = "93.184.215.14"  # a global address: the check must pass it


@pytest.fixture
def secret() -> Iterator[HostileService]:
    with HostileService() as service:
        yield service


@pytest.fixture(params=["connect", "second"])
def dns(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Replace DNS for ``rebind.test``; the list records the ports asked."""
    real = socket.getaddrinfo
    asked: list[Any] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != HOST:
            return real(host, port, *args, **kwargs)
        asked.append(port)
        public = not port if request.param == "connect" else len(asked) == 1
        number = int(port or 0)
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (PUBLIC if public else "127.0.0.1", number))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def _spec(secret: HostileService, *, ref: bool = False) -> dict[str, Any]:
    """An OpenAPI document served at ``rebind.test`` (the secret service's port); ``ref``: its schema from there too."""
    port = secret.url.rsplit(":", 1)[1]
    schema = {"$ref": f"http://{HOST}:{port}/defs.json#/S"} if ref else {"type": "string"}
    return {"openapi": "3.0.0", "info": {"title": "Shop", "version": "1"}, "servers": [{"url": f"http://{HOST}:{port}"}],
            "paths": {"/products": {"get": {"operationId": "productsUsingGET", "summary": "Find products",
                                            "parameters": [{"name": "q", "in": "query", "schema": schema}]}}}}


def _request(scripted: Any, manifest: str, **config: Any) -> dict[str, Any]:
    request = klarna_request(manifest=manifest, base_url=scripted.base_url, max_retries=0, **config)
    request["test_cases"] = [{**request["test_cases"][0], "expected_api_used": manifest.rsplit("/", 1)[0] + "/products"}]
    return request


@pytest.fixture
def serve(start_server: Callable[..., LiveServer], scripted: Any, tmp_path: Path) -> LiveServer:
    scripted.set_script({"default": {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt"}}}})
    return start_server(allow_dirs=(tmp_path.resolve(),), allow_urls=(scripted.base_url,))


def test_a_manifest_that_rebinds_to_loopback_is_never_fetched(serve: LiveServer, scripted: Any, secret: HostileService,
                                                              dns: list[Any]) -> None:
    port = secret.url.rsplit(":", 1)[1]
    with serve.client() as client:
        answer = client.post("/api/start-job", json=_request(scripted, f"http://{HOST}:{port}/manifest.json"))
    assert answer.status_code == 422, answer.text
    assert "127.0.0.1" in answer.text and CANARY not in answer.text
    assert dns and secret.requests == []


def test_a_ref_that_rebinds_to_loopback_is_never_fetched(serve: LiveServer, scripted: Any, secret: HostileService,
                                                         dns: list[Any], tmp_path: Path) -> None:
    manifest = tmp_path / "shop.json"
    manifest.write_text(json.dumps(_spec(secret, ref=True)))
    with serve.client() as client:
        answer = client.post("/api/start-job", json=_request(scripted, str(manifest)))
    assert answer.status_code == 422, answer.text
    assert "127.0.0.1" in answer.text and CANARY not in answer.text
    assert dns and secret.requests == []


def test_an_executed_operation_that_rebinds_to_loopback_is_never_called(
        serve: LiveServer, scripted: Any, secret: HostileService, dns: list[Any], tmp_path: Path) -> None:
    manifest = tmp_path / "shop.json"
    manifest.write_text(json.dumps(_spec(secret)))
    with serve.client() as client:
        answer = client.post("/api/start-job", json=_request(scripted, str(manifest), execute_operations=True))
    assert answer.status_code == 200, answer.text
    [row] = answer.json()["details"]
    assert "127.0.0.1" in (row["error"] or "") and CANARY not in json.dumps(row), row
    assert dns and secret.requests == []
