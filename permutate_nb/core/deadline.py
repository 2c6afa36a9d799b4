"""One deadline per unit of work, covering its retries and ``Retry-After`` waits.

The runner opens ``unit_deadline(seconds)`` around each unit (``asyncio.timeout``); code
below it asks ``remaining()`` (a retry that would wait past the deadline fails at once,
the local model stops generating at it) and ``extend(seconds)`` gives back time a unit
spent queueing for a provider that serves one call at a time (the embedded model), so a
queue does not eat the runs' deadlines.
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from typing import Any

__all__ = ["unit_deadline", "remaining", "passed", "extend"]

_CURRENT: ContextVar["asyncio.Timeout | None"] = ContextVar("permutate_unit_deadline", default=None)


class unit_deadline:  # noqa: N801 - used like asyncio.timeout
    """Raise TimeoutError in the block ``seconds`` after it starts (None: no deadline)."""

    __slots__ = ("_scope", "_token")

    def __init__(self, seconds: float | None) -> None:
        self._scope = asyncio.timeout(seconds)

    def expired(self) -> bool:
        return self._scope.expired()

    async def __aenter__(self) -> "unit_deadline":
        await self._scope.__aenter__()
        self._token = _CURRENT.set(self._scope)
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> bool | None:
        _CURRENT.reset(self._token)
        return await self._scope.__aexit__(exc_type, exc, tb)


def passed() -> bool:
    """True when the current unit's deadline has passed (its cancellation may have been turned into a
    client library's own timeout error on the way up, so callers check the clock too)."""
    left = remaining()
    return left is not None and left <= 0


def remaining() -> float | None:
    """Seconds left before the current unit's deadline, or None outside one."""
    scope = _CURRENT.get()
    when = scope.when() if scope is not None else None
    return None if when is None else when - asyncio.get_running_loop().time()


def extend(seconds: float) -> None:
    """Move the current unit's deadline ``seconds`` later."""
    scope = _CURRENT.get()
    when = scope.when() if scope is not None else None
    if when is not None and seconds > 0:
        scope.reschedule(when + seconds)  # type: ignore[union-attr]
