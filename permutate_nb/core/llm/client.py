"""``LLMClient``: a provider plus the response cache, retries with backoff, and a timeout.

Everything that calls a model in the engine goes through here, so every kind of job
gets the same caching and the same retry policy: exponential backoff with jitter on
429, 5xx, timeouts and dropped connections, honouring ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, TypeVar

from ...errors import TransientProviderError
from ..cache import ResponseCache, cache_key
from ..deadline import extend, passed, remaining
from .base import ChatProvider, ChatRequest, ChatResult

__all__ = ["LLMClient", "ChatOutcome", "backoff_delay", "with_retries"]

T = TypeVar("T")


@dataclass(slots=True)
class ChatOutcome:
    result: ChatResult
    cached: bool
    attempts: int
    elapsed: float  # seconds spent on the call(s) and backoff, not waiting for a turn


def backoff_delay(attempt: int, retry_after: float | None, *, base: float = 0.5, cap: float = 30.0) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based)."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), 60.0)
    return min(cap, base * 2 ** (attempt - 1)) * random.uniform(0.5, 1.5)


async def with_retries(call: Callable[[], Awaitable[T]], max_retries: int) -> tuple[T, int]:
    """``call()``'s result and the attempts it took, retrying ``TransientProviderError`` with backoff.

    After the last retry, or when the provider's ``Retry-After`` would pass the unit's deadline,
    the error is raised with ``attempts`` set on it; a backoff wait is cut short by the deadline.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return await call(), attempt
        except TransientProviderError as exc:
            exc.attempts = attempt  # type: ignore[attr-defined]
            if passed():  # the unit's deadline ended this call
                raise TimeoutError from exc
            if attempt > max_retries:
                raise
            delay, left = backoff_delay(attempt, exc.retry_after), remaining()
            if exc.retry_after is not None and left is not None and delay >= left:  # no point waiting for it
                late = TransientProviderError(
                    f"{exc}; its Retry-After of {exc.retry_after:g} s would pass the run's deadline "
                    f"({max(left, 0):.1f} s left)", exc.status, exc.retry_after)
                late.attempts = attempt  # type: ignore[attr-defined]
                raise late from None
            await asyncio.sleep(delay)


class LLMClient:
    def __init__(
        self,
        provider: ChatProvider,
        *,
        cache: ResponseCache | None = None,
        max_retries: int = 3,
        timeout: float = 60.0,
    ) -> None:
        self.provider = provider
        self.cache = cache
        self.max_retries = max_retries
        self.timeout = timeout
        # A provider that can serve only so many calls at once (an in-process model) says so;
        # runs then queue here, before their clock starts.
        limit = getattr(provider, "max_concurrency", None)
        self._gate = asyncio.Semaphore(limit) if limit else None

    async def chat(self, request: ChatRequest, *, repeat: int = 0) -> ChatOutcome:
        key = None
        if self.cache is not None:
            key = cache_key(self.provider.identity, self.provider.cache_payload(request), repeat)
            hit = self.cache.get(key)
            if hit is not None:
                return ChatOutcome(ChatResult.from_json_dict(hit), True, 0, 0.0)
        if self._gate is None:
            return await self._call(request, key)
        queued = time.perf_counter()
        async with self._gate:
            extend(time.perf_counter() - queued)  # waiting for a turn does not count against the run's deadline
            return await self._call(request, key)

    async def _call(self, request: ChatRequest, key: str | None) -> ChatOutcome:
        started = time.perf_counter()
        result, attempt = await with_retries(lambda: self.provider.chat(request, self.timeout), self.max_retries)
        if key is not None:
            self.cache.put(key, result.to_json_dict())  # type: ignore[union-attr]
        return ChatOutcome(result, False, attempt, time.perf_counter() - started)
