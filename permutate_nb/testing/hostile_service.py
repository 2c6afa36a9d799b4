"""A hostile loopback HTTP service, for trying ``permutate serve`` as an attacker would.

Why it exists: the server must never let a request reach its own network, nor stall on a slow
document. The suite (``tests/server/test_strangers_serve.py``) and the safety figures
(``benchmarks/strangers.py``) both need a service that plays the server's private neighbour:

    HostileService()                     # {"secret": CANARY} to anything: it must never be reached
    HostileService(redirect=other.url)   # 302 to ``other`` with the same path: a redirect hop inward
    HostileService(drip=True)            # 200 with a 100,000-byte length, then one byte each half second

``requests`` lists the paths asked (``hits`` counts them); ``active`` counts drips under way.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["HostileService", "CANARY"]

#: The secret only this service knows: found in any answer of the server, it leaked.
CANARY = "canary-7f3e9"


class HostileService:
    """A ``ThreadingHTTPServer`` on 127.0.0.1 in a daemon thread; ``close()`` stops it and its drips."""

    def __init__(self, *, redirect: str | None = None, drip: bool = False, canary: str = CANARY) -> None:
        self.requests: list[str] = []
        self.active = 0
        self.stop = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self, redirect, drip, canary))
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def hits(self) -> int:
        """How many requests reached the service; a test that the server refused an address expects none."""
        return len(self.requests)

    def close(self) -> None:
        """Stop the drips and the server, and free its port."""
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> HostileService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _handler(service: HostileService, redirect: str | None, drip: bool, canary: str) -> Any:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            service.requests.append(self.path)
            if redirect is not None:
                self.send_response(302)
                self.send_header("Location", redirect + self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif drip:
                self._drip()
            else:
                data = json.dumps({"secret": canary}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        def _drip(self) -> None:
            service.active += 1
            try:
                self.send_response(200)
                self.send_header("Content-Length", "100000")
                self.end_headers()
                while not service.stop.wait(0.5):
                    self.wfile.write(b" ")
                    self.wfile.flush()
            except OSError:
                pass  # the client hung up: what a drip waits for
            finally:
                service.active -= 1

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    return Handler
