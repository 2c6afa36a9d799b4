"""A fake OpenPlugin-style selector service on 127.0.0.1 for the ``Imprompt`` selector's tests.

``replies[path]`` is a list of ``(status, body)`` used in order (the last repeats); a body
that is bytes goes out verbatim. Every request is recorded with its headers and JSON body.
Replies wait while ``release`` is clear (a test holds runs in flight that way).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class SelectorService:
    def __init__(self) -> None:
        self.replies: dict[str, list[tuple[int, Any]]] = {}
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.release = threading.Event()
        self.release.set()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with service._lock:
                    service.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                             "json": json.loads(raw or b"null")})
                    queue = service.replies.get(self.path) or [(404, {"message": "no such route"})]
                    status, body = queue.pop(0) if len(queue) > 1 else queue[0]
                service.release.wait()
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
