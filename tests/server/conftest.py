"""A real uvicorn server on 127.0.0.1 in a thread, one per test (each test has its own PERMUTATE_HOME)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from permutate_nb.server import ServerSettings, create_app
from tests.helpers import DEADLINE


class LiveServer:
    """``create_app`` under uvicorn on a free port; ``client`` speaks real HTTP to it."""

    def __init__(self, settings: ServerSettings) -> None:
        import uvicorn

        self.settings = settings
        config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning",
                                timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.url = ""
        self._thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + DEADLINE
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def client(self, *, timeout: float = DEADLINE, **headers: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(DEADLINE)


@pytest.fixture
def start_server() -> Iterator[Callable[..., LiveServer]]:
    """Start servers with given settings; all stopped at the end of the test."""
    servers: list[LiveServer] = []

    def start(**settings: Any) -> LiveServer:
        server = LiveServer(ServerSettings(**settings)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def api(start_server: Callable[..., LiveServer], scripted: Any, monkeypatch: pytest.MonkeyPatch) -> LiveServer:
    """A server that may read the bundled snapshots and reach the scripted LLM server on 127.0.0.1.

    Model names in batches and evals go to the scripted server through OPENAI_BASE_URL.
    """
    import permutate_nb

    monkeypatch.setenv("OPENAI_BASE_URL", scripted.base_url)
    snapshots = Path(permutate_nb.__file__).parent / "examples" / "snapshots"
    return start_server(allow_dirs=(snapshots.resolve(),))


@pytest.fixture
def http(api: LiveServer) -> Iterator[httpx.Client]:
    with api.client() as client:
        yield client
