"""``permutate serve`` and MCP plugins: strangers do not start processes (``--allow-mcp-command``),
``mcp.url`` goes through the URL guard like a manifest URL."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import LiveServer
from .helpers import assert_422

pytest.importorskip("mcp")

TEST_SERVER = Path(__file__).resolve().parents[1] / "mcp_test_server.py"
LOC = ["body", "plugin_groups", 0, "plugins", 0, "mcp"]


def _request(base_url: str, mcp: dict[str, Any]) -> dict[str, Any]:
    llm = {"provider": "OpenAIChat", "model_name": "gpt-4o-mini", "temperature": 0, "base_url": base_url}
    return {
        "name": "mcp_over_http", "config": {"cache": False, "max_retries": 0},
        "plugin_groups": [{"name": "g", "plugins": [{"name": "notes", "mcp": mcp}]}],
        "permutations": [{"name": "p1", "llm": llm, "tool_selector": {"provider": "OpenAI", "plugin_group_name": "g"}}],
        "test_cases": [{"name": "find", "type": "plugin_selector", "prompt": "find tea notes",
                        "expected_plugin_used": "notes", "expected_api_used": "search_notes"}],
    }


def test_mcp_command_needs_the_operators_permission(start_server: Callable[..., LiveServer], scripted: Any,
                                                    tmp_path: Path) -> None:
    scripted.set_script({"rules": [{"responses": [{"tool_call": {"name": "search_notes", "arguments": {"query": "tea"}}}]}]})
    log = tmp_path / "server.log"
    body = _request(scripted.base_url, {"command": [sys.executable, str(TEST_SERVER), str(log)]})
    with start_server().client() as client:
        entry = assert_422(client.post("/api/start-job", json=body), [*LOC, "command"], "cannot start a program")
        assert f"--allow-mcp-command {sys.executable}" in entry["msg"]
    assert not log.exists()  # refused before anything started
    with start_server(allow_mcp_commands=(sys.executable,), allow_urls=(scripted.base_url,)).client() as client:
        answer = client.post("/api/start-job", json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["summary"]["overall_accuracy"] == 100.0
        secret = _request(scripted.base_url, {"command": [sys.executable, str(TEST_SERVER)],
                                              "env": {"X": "${PERMUTATE_API_KEY}"}})
        assert_422(client.post("/api/start-job", json=secret), [*LOC, "env", "X"], "the server's own key")


def test_mcp_url_goes_through_the_url_guard(start_server: Callable[..., LiveServer], scripted: Any) -> None:
    from ..mcp_test_server import serve_http

    scripted.set_script({"rules": [{"responses": [{"tool_call": {"name": "search_notes", "arguments": {"query": "tea"}}}]}]})
    with serve_http() as (url, recorder):
        body = _request(scripted.base_url, {"url": url})
        with start_server().client() as client:
            assert_422(client.post("/api/start-job", json=body), [*LOC, "url"], "resolves to a private address (127.0.0.1)")
        assert recorder.headers == []  # refused before any request reached the server
        with start_server(allow_private_urls=True, allow_urls=(scripted.base_url,)).client() as client:
            answer = client.post("/api/start-job", json=body)
            assert answer.status_code == 200, answer.text
            assert answer.json()["summary"]["overall_accuracy"] == 100.0
