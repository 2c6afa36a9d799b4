"""An httpx transport over the job's aiohttp sessions, for clients that insist on httpx.

langchain-openai (through the openai SDK) sends every call through an httpx client. With
httpx's own pool, each request and each response walks every pooled connection
(httpcore's ``_assign_requests_to_connections``): measured at concurrency 32, the
LangChain selector cost 13.7 ms of client CPU per run, most of it there. Handing the
requests to the aiohttp session pool the OpenAIChat provider already uses keeps one
connection pool per endpoint and job. Whole bodies only: nothing here streams.
"""

from __future__ import annotations

import aiohttp
import httpx

from .openai_chat import SessionPool, read_limited

__all__ = ["AiohttpTransport"]

_HOP = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive"})
_DECODED = frozenset({"content-encoding", "content-length", "transfer-encoding"})


class AiohttpTransport(httpx.AsyncBaseTransport):
    """httpx transport that sends each request through the job's aiohttp session for its origin."""

    def __init__(self, pool: SessionPool) -> None:
        self._pool = pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on the pooled aiohttp session and return the whole, decoded body as httpx's response."""
        url = request.url
        session = self._pool.get(f"{url.scheme}://{url.netloc.decode('ascii')}")
        timeouts = request.extensions.get("timeout") or {}
        seconds = [t for t in (timeouts.get("connect"), timeouts.get("read"), timeouts.get("write")) if t is not None]
        timeout = aiohttp.ClientTimeout(total=max(seconds) if seconds else None)
        headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() not in _HOP]
        body = await request.aread()
        try:
            async with session.request(request.method, str(url), headers=headers, data=body or None,
                                       timeout=timeout, allow_redirects=False) as response:
                content = await read_limited(response, str(url), self._pool.max_response_bytes)
                status = response.status
                out_headers = [(k, v) for k, v in response.headers.items() if k.lower() not in _DECODED]
        except TimeoutError:
            raise httpx.ReadTimeout(f"no answer from {url} in time", request=request) from None
        except aiohttp.ClientConnectionError as exc:
            raise httpx.ConnectError(str(exc), request=request) from None
        except aiohttp.ClientError as exc:
            raise httpx.TransportError(str(exc)) from None
        return httpx.Response(status, headers=out_headers, content=content, request=request)
