"""An MCP server written for the tests with the SDK's FastMCP (``MCPServer`` in mcp 2).

Over stdio: ``python tests/mcp_test_server.py LOGFILE`` appends ``start PID`` when it starts and
``called PID`` when ``wait_forever`` is called, so a test can find the process and wait for it to
go. Over streamable HTTP: ``serve_http()`` runs it with uvicorn on 127.0.0.1 (a free port) in a
thread and records the headers of every request.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer

server = MCPServer("notes")
LOG: str | None = None


def _log(line: str) -> None:
    if LOG:
        with open(LOG, "a", encoding="utf-8") as f:
            f.write(f"{line} {os.getpid()}\n")


@server.tool()
def add_note(title: str, body: str = "") -> str:
    """Save a note under a title."""
    return f"saved note {title!r} ({len(body)} characters)"


@server.tool()
def search_notes(query: str, limit: int = 5) -> list[str]:
    """Find notes whose title contains the query."""
    return [f"{query} note {i}" for i in range(1, min(limit, 3) + 1)]


@server.tool()
async def wait_forever(seconds: float = 600.0) -> str:
    """Wait a long time before answering (for cancellation tests)."""
    _log("called")
    await anyio.sleep(seconds)
    return "done"


class _HeaderRecorder:
    """ASGI middleware keeping every request's headers (lower-case names)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.headers: list[dict[str, str]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.headers.append({k.decode().lower(): v.decode() for k, v in scope["headers"]})
        await self.app(scope, receive, send)


@contextlib.contextmanager
def serve_http() -> Iterator[tuple[str, _HeaderRecorder]]:
    """The server over streamable HTTP on 127.0.0.1; yields ``(url, recorder)`` and stops it after."""
    import uvicorn

    recorder = _HeaderRecorder(server.streamable_http_app(host="127.0.0.1"))
    # the app's lifespan runs the session manager: uvicorn must run it ("on")
    userver = uvicorn.Server(uvicorn.Config(recorder, host="127.0.0.1", port=0, log_level="error", lifespan="on"))
    thread = threading.Thread(target=userver.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not userver.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the MCP HTTP server did not start"
        time.sleep(0.02)
    port = userver.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/mcp", recorder
    finally:
        userver.should_exit = True
        thread.join(30)


if __name__ == "__main__":
    LOG = sys.argv[1] if len(sys.argv) > 1 else None
    _log("start")
    server.run()
