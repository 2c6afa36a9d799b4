"""Replies no OpenAI-compatible server should send: each fails its own run with a clear error; the job goes on."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import permutate_nb as pn

from ..helpers import klarna_request

GOOD = {"choices": [{"message": {"role": "assistant", "content": None, "tool_calls": [
    {"id": "c1", "type": "function", "function": {"name": "productsUsingGET", "arguments": "{\"q\": \"T shirt\"}"}}]}}]}
ODD: dict[str, tuple[Any, str]] = {
    "message-is-text": ({"choices": [{"message": "hello"}]}, "choices[0].message is a str, not an object"),
    "call-without-name": ({"choices": [{"message": {"tool_calls": [{"function": {"arguments": "{}"}}]}}]},
                          "tool call 0 has no function name"),
    "call-is-text": ({"choices": [{"message": {"tool_calls": ["productsUsingGET"]}}]}, "tool call 0 has no function name"),
    "deep": ("[" * 100_000 + "]" * 100_000, "answered with something that is not JSON"),
}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - the base class's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][-1]["content"]
        reply = next((odd for key, (odd, _) in ODD.items() if key in prompt), GOOD)
        data = (reply if isinstance(reply, str) else json.dumps({**reply, "usage": {"prompt_tokens": "many"}})).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def odd_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def test_odd_replies_fail_their_run_only(odd_server: str) -> None:
    request = klarna_request(base_url=odd_server, max_retries=0)
    template = request["test_cases"][0]
    request["test_cases"] = [dict(template, name="fine", prompt="Show me shirts")] + [
        dict(template, name=key, prompt=f"Show me shirts ({key})") for key in ODD]
    result = pn.run(request, cache=False)
    rows = {d.test_case_name: d for d in result.details}
    assert rows["fine"].is_run_completed and rows["fine"].plugin_operation.endswith("/products")
    assert rows["fine"].prompt_tokens == 0  # a usage count that is not a number counts as 0
    for key, (_, message) in ODD.items():
        assert not rows[key].is_run_completed and message in rows[key].error, (key, rows[key].error)
