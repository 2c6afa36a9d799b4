"""``config.execute_operations``: the chosen operation is really called, against a local plugin API.

The API is ``permutate_nb.testing.plugin_api_server``: the Klarna snapshot's manifest and
OpenAPI document served from 127.0.0.1, with a small product catalogue behind them.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

import permutate_nb as pn
from permutate_nb.core.llm.aiohttp_transport import AiohttpTransport
from permutate_nb.core.llm.openai_chat import SessionPool
from permutate_nb.core.plugins.execute import OperationExecutor
from permutate_nb.core.plugins.openapi import Operation
from permutate_nb.errors import ConfigurationError
from permutate_nb.testing.plugin_api_server import PluginAPIServer, search_products

from ..helpers import klarna_request

CALL = {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 2}}}


@pytest.fixture
def api() -> Iterator[PluginAPIServer]:
    with PluginAPIServer() as server:
        yield server


def api_request(api: PluginAPIServer, base_url: str, **config: Any) -> dict[str, Any]:
    request = klarna_request(manifest=api.manifest_url, base_url=base_url, cache=False, execute_operations=True, **config)
    for case in request["test_cases"]:
        case["expected_api_used"] = api.products_url
        case["expected_parameters"] = {"q": "T shirt", "size": 2} if case.get("expected_parameters") else None
    request["test_cases"][0]["expected_response"] = json.dumps(search_products("T shirt", 2))
    return request


def test_catalogue() -> None:
    shirts = search_products("t-shirts", 3)["products"]
    assert len(shirts) == 3 and all("T shirt" in p["name"] for p in shirts) and shirts[0]["price"] == "$12.00"
    assert [p["name"] for p in search_products("laptop", 10, max_price=700)["products"]] == ["Budget Laptop 14", "Student Laptop 15"]


def test_function_calling_selection_is_executed(scripted: Any, api: PluginAPIServer) -> None:
    scripted.set_script({"rules": [{"responses": [CALL]}]})
    result = pn.run(api_request(api, scripted.base_url))
    for row in result.details:
        assert row.passed and row.operation_status == 200 and row.error is None
        assert json.loads(row.final_output or "") == search_products("T shirt", 2)
    assert result.details[0].match_score == 1.0 and result.details[1].match_score is None
    calls = [r for r in api.requests if r["path"].endswith("/products")]
    assert len(calls) == 2 and calls[0]["query"] == {"q": "T shirt", "size": "2"}
    assert result.summary["average_match_score"] == 1.0


def test_api_errors_keep_the_selection(scripted: Any, api: PluginAPIServer) -> None:
    scripted.set_script({"rules": [{"responses": [{"tool_call": {"name": "productsUsingGET", "arguments": {"size": 2}}}]}]})
    row = pn.run(api_request(api, scripted.base_url)).details[0]
    assert row.is_run_completed and row.is_plugin_operation_found and row.operation_status == 400
    assert row.error == "the operation answered HTTP 400" and "q is required" in (row.final_output or "")


def test_bearer_token_from_the_environment(scripted: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    scripted.set_script({"rules": [{"responses": [CALL]}]})
    with PluginAPIServer(token="s3cret") as api:
        request = api_request(api, scripted.base_url)
        request["plugin_groups"][0]["plugins"][0]["auth"] = {"type": "bearer", "token_env": "SHOP_TOKEN"}
        with pytest.raises(ConfigurationError, match="auth.token_env names SHOP_TOKEN"):
            pn.validate(request)
        monkeypatch.setenv("SHOP_TOKEN", "s3cret")
        rows = pn.run(request).details
        assert [r.operation_status for r in rows] == [200, 200]
        assert api.requests[-1]["headers"]["authorization"] == "Bearer s3cret"
        del request["plugin_groups"][0]["plugins"][0]["auth"]
        assert [r.operation_status for r in pn.run(request).details] == [401, 401]


def test_without_execution_nothing_is_called(scripted: Any, api: PluginAPIServer) -> None:
    scripted.set_script({"rules": [{"responses": [CALL]}]})
    request = api_request(api, scripted.base_url)
    request["config"]["execute_operations"] = False
    rows = pn.run(request).details
    assert all(r.passed and r.final_output is None and r.operation_status is None for r in rows)
    assert not [r for r in api.requests if r["path"].endswith("/products")]


def test_timeout_and_unreachable_are_notes() -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        op = Operation("p", "P", "GET", f"http://127.0.0.1:{port}/x", "/x", None, "", "", {}, {})

        async def main() -> list[Any]:
            pool = SessionPool(4)  # the transport every job uses: httpx over the job's aiohttp sessions
            async with httpx.AsyncClient(transport=AiohttpTransport(pool)) as client:
                executor = OperationExecutor(client, timeout=0.3)
                slow = await executor.execute(op, {"a": 1})
                silent.close()
                gone = await executor.execute(op, {})
            await pool.aclose()
            return [slow, gone]

        slow, gone = asyncio.run(main())
    assert slow.status is None and slow.error == f"GET http://127.0.0.1:{port}/x did not answer within 0.3 s"
    assert gone.error and "failed: ConnectError" in gone.error and gone.observation.startswith("Error: ")


def test_transport_decodes_bodies_and_keeps_headers() -> None:
    payload = gzip.compress(json.dumps({"products": ["x"]}).encode())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server API
            body = self.rfile.read(int(self.headers["Content-Length"]))
            assert json.loads(body) == {"q": 1} and self.headers["X-Trace"] == "t1"
            self.send_response(201)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("X-Answer", "42")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()

    async def main() -> httpx.Response:
        pool = SessionPool(2)
        async with httpx.AsyncClient(transport=AiohttpTransport(pool)) as client:
            response = await client.post(f"http://127.0.0.1:{server.server_address[1]}/p", json={"q": 1},
                                         headers={"X-Trace": "t1"})
        await pool.aclose()
        return response

    try:
        response = asyncio.run(main())
    finally:
        server.shutdown()
        server.server_close()
    assert response.status_code == 201 and response.json() == {"products": ["x"]}
    assert response.headers["x-answer"] == "42" and "content-encoding" not in response.headers


def test_an_answer_over_max_response_bytes_keeps_the_selection(scripted: Any, api: PluginAPIServer) -> None:
    scripted.set_script({"rules": [{"responses": [{"tool_call": {"name": "productsUsingGET",
                                                                 "arguments": {"q": "shirt", "size": 50}}}]}]})
    assert len(json.dumps(search_products("shirt", 50))) > 900  # the model's reply is about half that
    row = pn.run(api_request(api, scripted.base_url, max_response_bytes=900)).details[0]
    assert row.is_run_completed and row.is_plugin_operation_found and row.operation_status is None
    assert "more than 900 bytes (config.max_response_bytes)" in (row.error or "")
