"""Conversations sent to ``permutate serve``: a backend only from a module the operator allowed
(``--allow-backend``), and executed operations in a conversation meet the same URL guard."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from permutate_nb.errors import ConfigurationError
from permutate_nb.server.settings import ServerSettings
from permutate_nb.testing.plugin_api_server import PluginAPIServer
from tests.core.test_conversations import SHOP, SHOP_SCRIPT, _shop_case, request
from tests.helpers import KLARNA, klarna_request

from .conftest import LiveServer
from .helpers import assert_422


def test_a_backend_outside_the_allow_list_is_refused(start_server: Callable[..., LiveServer], scripted: Any) -> None:
    server = start_server(allow_urls=(scripted.base_url,), allow_backends=("permutate_nb.examples.other",))
    with server.client() as client:
        answer = client.post("/api/start-job", json=request(scripted.base_url, _shop_case(["bread", "milk"])))
        assert_422(answer, ["body", "test_cases", 0, "backend"],
                   f"{SHOP}: a request sent over HTTP cannot import a backend unless the server allows its module "
                   "(permutate serve --allow-backend permutate_nb.examples.shopping)")
    assert scripted.requests == []


def test_an_allowed_backend_runs(start_server: Callable[..., LiveServer], scripted: Any) -> None:
    scripted.set_script(SHOP_SCRIPT)
    server = start_server(allow_urls=(scripted.base_url,), allow_backends=("permutate_nb.examples",))
    with server.client() as client:
        answer = client.post("/api/start-job", json=request(scripted.base_url, _shop_case(["bread", "milk"])))
    assert answer.status_code == 200, answer.text
    (row,) = answer.json()["details"]
    assert row["passed"] and row["end_state"]["state"] == {"items": ["bread", "milk"]}
    assert [t["verdict"] for t in row["turns"]] == [True, True] and row["transcript"][0]["role"] == "user"


def test_allow_backends_from_flags_and_the_environment(monkeypatch: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"^--allow-backend pkg/x: give a module's dotted name"):
        ServerSettings.from_env(allow_backends=["pkg/x"])
    monkeypatch.setenv("PERMUTATE_ALLOW_BACKENDS", "pkg.backends, other")  # the settings re-read a changed environment
    made = ServerSettings.from_env(allow_backends=["mine.tools", "pkg.backends"])
    assert made.allow_backends == ("mine.tools", "pkg.backends", "other")


def test_executed_operations_in_a_conversation_meet_the_url_guard(start_server: Callable[..., LiveServer],
                                                                  scripted: Any) -> None:
    scripted.set_script({"rules": [{"responses": [
        {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 2}}}, {"text": "Sorry."}]}]})
    with PluginAPIServer() as api:  # the operator lets the manifest and spec be read, not the API itself
        server = start_server(allow_dirs=(KLARNA.parent.resolve(),),
                              allow_urls=(scripted.base_url, api.manifest_url, f"{api.base_url}/openapi.json"))
        data = klarna_request(manifest=api.manifest_url, base_url=scripted.base_url, execute_operations=True, cache=False)
        data["test_cases"] = [{"name": "c", "type": "conversation", "turns": [{"user": "two T shirts"}]}]
        with server.client() as client:
            answer = client.post("/api/start-job", json=data)
        assert answer.status_code == 200, answer.text
        assert [r for r in api.requests if r["path"].endswith("/products")] == []
    tool = next(m for m in answer.json()["details"][0]["transcript"] if m["role"] == "tool")
    assert "refused by the server" in tool["content"] and tool["error"] is True
