"""Who may be called during a job: a check every HTTP request of the job's clients passes first.

``permutate serve`` sets ``URL_CHECK`` for the jobs it runs, so an executed operation, a selector
service or a LangChain model call (and every redirect hop of each: httpx runs request hooks per
hop) is refused when it points at the server's own network. The CLI and notebooks set nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

__all__ = ["URL_CHECK", "UrlCheck", "event_hooks"]

#: ``await check(url)`` returns None to allow, else the reason the URL is refused.
UrlCheck = Callable[[str], Awaitable[str | None]]
URL_CHECK: ContextVar[UrlCheck | None] = ContextVar("permutate_url_check", default=None)


def event_hooks() -> dict[str, list[Any]]:
    """httpx ``event_hooks`` applying the current ``URL_CHECK`` (none when it is unset)."""
    check = URL_CHECK.get()
    if check is None:
        return {}

    async def before(request: Any) -> None:
        import httpx

        problem = await check(str(request.url))
        if problem is not None:
            raise httpx.ConnectError(f"refused by the server: {problem}", request=request)

    return {"request": [before]}
