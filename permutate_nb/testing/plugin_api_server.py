"""An example plugin API on 127.0.0.1: a small product catalogue shaped like Klarna Shopping.

Why it exists: ``config.execute_operations`` calls the chosen operation for real, and tests,
demos and notebooks need an API that answers without the network. This server serves the
bundled Klarna snapshot's manifest and OpenAPI document (with its server URL pointing
here) and implements their one operation, ``GET /us/shopping/public/openai/v0/products``
(``q``, ``size``, ``min_price``, ``max_price``), over a fixed catalogue.

    with PluginAPIServer() as api:          # or PluginAPIServer(token="s3cret") to demand a bearer token
        api.manifest_url                    # http://127.0.0.1:PORT/Klarna_Shopping.json
        api.requests                        # what was called: method, path, query, headers

Run it in the foreground with ``python -m permutate_nb.testing.plugin_api_server --port 8010``.
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["PluginAPIServer", "CATALOGUE", "PRODUCTS_PATH", "search_products"]

_SNAPSHOTS = Path(__file__).resolve().parent.parent / "examples" / "snapshots"
PRODUCTS_PATH = "/us/shopping/public/openai/v0/products"

CATALOGUE: list[dict[str, Any]] = [
    {"name": "Basic Cotton T shirt", "price": 12.0, "category": "t shirt", "attributes": ["Color:White", "Material:Cotton"]},
    {"name": "Graphic Print T shirt", "price": 19.5, "category": "t shirt", "attributes": ["Color:Black"]},
    {"name": "Organic V-neck T shirt", "price": 24.0, "category": "t shirt", "attributes": ["Color:Green", "Material:Organic cotton"]},
    {"name": "Running T shirt Dry-Fit", "price": 29.99, "category": "t shirt", "attributes": ["Color:Blue", "Sport:Running"]},
    {"name": "Long Sleeve T shirt", "price": 22.0, "category": "t shirt", "attributes": ["Color:Grey"]},
    {"name": "Oversized T shirt", "price": 17.0, "category": "t shirt", "attributes": ["Color:Beige"]},
    {"name": "Trail Running Shoes", "price": 89.0, "category": "running shoe", "attributes": ["Sport:Running"]},
    {"name": "Road Running Shoes", "price": 129.0, "category": "running shoe", "attributes": ["Sport:Running"]},
    {"name": "Noise-Cancelling Headphones", "price": 199.0, "category": "headphone", "attributes": ["Type:Over-ear"]},
    {"name": "Budget Laptop 14", "price": 449.0, "category": "laptop", "attributes": ["RAM:8GB"]},
    {"name": "Student Laptop 15", "price": 649.0, "category": "laptop", "attributes": ["RAM:16GB"]},
    {"name": "Pro Laptop 16", "price": 1899.0, "category": "laptop", "attributes": ["RAM:32GB"]},
]


def _words(text: str) -> list[str]:
    return [w.rstrip("s") for w in text.lower().replace("-", " ").split() if w]


def search_products(q: str, size: int = 5, min_price: float | None = None, max_price: float | None = None) -> dict[str, Any]:
    """Klarna's ``ProductResponse``: products whose name or category holds every word of ``q``."""
    wanted = _words(q)
    found = []
    for item in CATALOGUE:
        words = _words(f"{item['name']} {item['category']}")
        if all(w in words for w in wanted) and (min_price is None or item["price"] >= min_price) \
                and (max_price is None or item["price"] <= max_price):
            slug = item["name"].lower().replace(" ", "-")
            found.append({"name": item["name"], "url": f"https://www.klarna.com/us/shopping/pl/{slug}",
                          "price": f"${item['price']:.2f}", "attributes": item["attributes"]})
    return {"products": found[:max(size, 0)]}


class PluginAPIServer:
    """The catalogue API, its manifest and OpenAPI document, in a background thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, token: str | None = None) -> None:
        self.token = token
        self.requests: list[dict[str, Any]] = []
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self.base_url = f"http://{host}:{self._server.server_address[1]}"
        self._thread: threading.Thread | None = None

    @property
    def manifest_url(self) -> str:
        """The manifest's URL on this server: what a request's ``manifest_url`` names."""
        return f"{self.base_url}/Klarna_Shopping.json"

    @property
    def products_url(self) -> str:
        """The product search operation's URL: what a test case's ``expected_api_used`` names."""
        return f"{self.base_url}{PRODUCTS_PATH}"

    def manifest(self) -> dict[str, Any]:
        """The bundled Klarna manifest, pointing its OpenAPI document at this server."""
        data = json.loads((_SNAPSHOTS / "Klarna_Shopping.json").read_text(encoding="utf-8"))
        data["openapi_doc_url"] = f"{self.base_url}/openapi.json"
        return data

    def openapi(self) -> dict[str, Any]:
        """The bundled Klarna OpenAPI document with its server URL set here, so executed operations call this server."""
        data = json.loads((_SNAPSHOTS / "klarna_openapi.json").read_text(encoding="utf-8"))
        data["servers"] = [{"url": f"{self.base_url}/us/shopping"}]
        return data

    def _answer(self, method: str, target: str, headers: dict[str, str]) -> tuple[int, Any]:
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        self.requests.append({"method": method, "path": parts.path, "query": query, "headers": headers})
        if parts.path == "/Klarna_Shopping.json":
            return 200, self.manifest()
        if parts.path == "/openapi.json":
            return 200, self.openapi()
        if parts.path != PRODUCTS_PATH:
            return 404, {"error": f"no route {parts.path}"}
        if method != "GET":
            return 405, {"error": f"method {method} not allowed"}
        if self.token and headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"error": "a bearer token is required"}
        if not query.get("q"):
            return 400, {"error": "q is required"}
        try:
            size = int(query.get("size") or 5)
            low = float(query["min_price"]) if query.get("min_price") else None
            high = float(query["max_price"]) if query.get("max_price") else None
        except ValueError as exc:
            return 400, {"error": f"bad number: {exc}"}
        return 200, search_products(query["q"], size, low, high)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, body = api._answer(self.command, self.path, headers)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _reply  # noqa: N815 - http.server API

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
                return None

        return Handler

    def start(self) -> PluginAPIServer:
        """Serve in a background thread; returns the server, so ``PluginAPIServer().start()`` chains."""
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="plugin-api", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> PluginAPIServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the example product catalogue plugin API.")
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument("--token", help="require this bearer token")
    args = parser.parse_args()
    server = PluginAPIServer(port=args.port, token=args.token)
    print(server.manifest_url, flush=True)
    try:
        server._server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
