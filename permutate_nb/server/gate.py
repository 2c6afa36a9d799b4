"""The door of the server, as plain ASGI (cheap per request): the API key and the body size limit.

With a key configured every path but ``/health`` needs it, in ``Integrations-API-Key`` (the
batch document's header), ``x-api-key`` or ``Authorization: Bearer``; it is compared in
constant time. A body over the limit is refused with 413, by its ``Content-Length`` or, for
chunked bodies, as soon as the bytes read pass it (such a body is read here, then handed on).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["Gate"]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
_OPEN_PATHS = frozenset({"/health"})


def _given_key(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    for name, value in headers:
        if name in (b"integrations-api-key", b"x-api-key"):
            return value
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return value[7:].strip()
    return None


async def _answer(send: Send, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"detail": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class Gate:
    """ASGI middleware checking the API key and the body size before any route runs (``/health`` needs no key)."""

    def __init__(self, app: Any, *, api_key: str | None, max_body_mb: float) -> None:
        self.app = app
        self.key = api_key.encode() if api_key else None
        self.max_body_mb = max_body_mb
        self.max_body = int(max_body_mb * 1024 * 1024)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a missing or wrong key (401) or a body over the limit (413); pass anything else on."""
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = scope["headers"]
        if self.key is not None and scope["path"] not in _OPEN_PATHS:
            given = _given_key(headers)
            if given is None or not hmac.compare_digest(given, self.key):
                return await _answer(send, 401, "missing or wrong API key: send it in Integrations-API-Key, "
                                                "x-api-key or Authorization: Bearer", [(b"www-authenticate", b"Bearer")])
        length = next((v for k, v in headers if k == b"content-length"), None)
        if length is not None:
            if length.isdigit() and int(length) > self.max_body:
                return await _answer(send, 413, self._too_large())
            return await self.app(scope, receive, send)
        body = await self._read_chunked(receive)
        if body is None:
            return await _answer(send, 413, self._too_large())
        await self.app(scope, _replay(body, receive), send)

    def _too_large(self) -> str:
        return f"the request body is larger than this server's limit of {self.max_body_mb:g} MB (--max-body-mb)"

    async def _read_chunked(self, receive: Receive) -> bytes | None:
        """A body without Content-Length, read up to the limit; None past it."""
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks)
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return await receive()  # after the body: wait for the disconnect, as the server would
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
