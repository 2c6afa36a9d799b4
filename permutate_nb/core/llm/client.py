"""The one cached, retried call path, and ``LLMClient`` (a provider on that path).

Every call the engine makes to a model or a selector service goes through ``CallPath``:
the response cache first (an answer is committed as soon as it arrives), then the call
with one retry policy (tenacity): exponential backoff with full jitter on 429, 5xx,
timeouts and dropped connections (``TransientProviderError``), honouring ``Retry-After``.
Providers and the openai SDK retry nothing themselves (``max_retries=0``), so no call is
retried twice over. Users: ``LLMClient`` (every provider), ``RemoteSelector`` and
LangChain's models (through ``langchain_models.CallPathTransport``).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ...errors import ProviderError, TransientProviderError
from ..jobs.deadline import passed, paused, remaining
from ..store.cache import ResponseCache, cache_key
from .base import ChatProvider, ChatRequest, ChatResult

if TYPE_CHECKING:  # tenacity is imported by the first retry (~40 ms at start-up)
    from tenacity import RetryCallState

__all__ = ["CallPath", "LLMClient", "ChatOutcome", "with_retries", "MAX_RETRY_AFTER"]

log = logging.getLogger("permutate_nb")

T = TypeVar("T")
MAX_RETRY_AFTER = 60.0  # seconds: a longer Retry-After is waited this long

# A provider that serves so many calls at once (the in-process model) has one gate per event loop
# and provider identity, whichever client calls it: with --provider local every permutation gets its
# own client, and all of them take turns at the same model.
_GATES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Semaphore]] = weakref.WeakKeyDictionary()


def _shared_gate(identity: str, limit: int) -> asyncio.Semaphore:
    gates = _GATES.setdefault(asyncio.get_running_loop(), {})
    gate = gates.get(identity)
    if gate is None:
        gate = gates[identity] = asyncio.Semaphore(limit)
    return gate


def _wait(state: RetryCallState) -> float:
    """The server's ``Retry-After`` when it sent one, else exponential backoff with full jitter."""
    error = state.outcome.exception() if state.outcome else None
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        return min(max(retry_after, 0.0), MAX_RETRY_AFTER)
    from tenacity import wait_random_exponential

    return wait_random_exponential(multiplier=0.5, max=30.0)(state)


def _within_deadline(error: TransientProviderError, attempts: int, max_retries: int) -> None:
    """Stop retrying at the unit's deadline (``core.deadline``): the deadline's cancellation may come
    back as the call's own timeout error, and a ``Retry-After`` past the deadline is not waited for."""
    if passed():
        raise TimeoutError("the run's deadline passed") from error
    left = remaining()
    if error.retry_after is None or left is None or attempts > max_retries:
        return
    if min(max(error.retry_after, 0.0), MAX_RETRY_AFTER) >= left:
        late = ProviderError(f"{error}; its Retry-After of {error.retry_after:g} s would pass the run's "
                             f"deadline ({max(left, 0):.1f} s left)", error.status)  # final: not retried
        late.attempts = attempts  # type: ignore[attr-defined]
        raise late from None


async def with_retries(call: Callable[[], Awaitable[T]], max_retries: int) -> tuple[T, int]:
    """``call()``'s result and the attempts it took, retrying ``TransientProviderError`` by the policy.

    The first attempt runs outside tenacity (it costs ~30 us a call, too much for the hot
    path); only a call that failed pays for the retry machinery. After the last retry, or
    when a ``Retry-After`` would pass the unit's deadline, the error is raised with
    ``attempts`` set on it; a backoff wait is cut short by the deadline.
    """
    try:
        return await call(), 1
    except TransientProviderError as exc:
        _within_deadline(exc, 1, max_retries)
        if max_retries <= 0:
            exc.attempts = 1  # type: ignore[attr-defined]
            raise
        first: TransientProviderError | None = exc
    attempts = 1

    async def again() -> T:
        nonlocal first, attempts
        if first is not None:  # attempt 1 already failed: tenacity waits as after any failure
            error, first = first, None
            raise error
        attempts += 1
        try:
            return await call()
        except TransientProviderError as exc:
            _within_deadline(exc, attempts, max_retries)
            raise

    from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt

    retrying = AsyncRetrying(stop=stop_after_attempt(max_retries + 1), wait=_wait, before_sleep=_log_retry,
                             retry=retry_if_exception_type(TransientProviderError), reraise=True)
    try:
        return await retrying(again), attempts
    except TransientProviderError as exc:
        exc.attempts = attempts  # type: ignore[attr-defined]
        raise


def _log_retry(state: RetryCallState) -> None:
    """tenacity's ``before_sleep``: one log line per retry (``permutate -v`` shows them)."""
    error = state.outcome.exception() if state.outcome is not None else None
    wait = state.next_action.sleep if state.next_action is not None else 0.0
    log.info("retry %d in %.1f s after: %s", state.attempt_number, wait, error)


class CallPath:
    """The response cache and the retry policy, for any call whose answer is a JSON object."""

    def __init__(self, cache: ResponseCache | None, max_retries: int) -> None:
        self.cache = cache
        self.max_retries = max_retries

    def key(self, identity: str, payload: str, repeat: int) -> str | None:
        """The cache key of a call, or None when the cache is off."""
        return cache_key(identity, payload, repeat) if self.cache is not None else None

    def cached(self, key: str | None) -> dict[str, Any] | None:
        """The cached answer for ``key``, or None (a miss or the cache off)."""
        return self.cache.get(key) if key is not None and self.cache is not None else None

    async def fetch(self, key: str | None, call: Callable[[], Awaitable[T]],
                    encode: Callable[[T], dict[str, Any]]) -> tuple[T, int]:
        """Make the call with retries; its answer goes to the cache at once. Returns it and the attempts."""
        value, attempts = await with_retries(call, self.max_retries)
        if key is not None and self.cache is not None:
            self.cache.put(key, encode(value))
        return value, attempts


@dataclass(slots=True)
class ChatOutcome:
    """One chat call's answer with how it came: from the cache, after how many attempts, in how long."""

    result: ChatResult
    cached: bool
    attempts: int
    elapsed: float  # seconds spent on the call(s) and backoff, not waiting for a turn


class LLMClient:
    """The engine's way to a provider: response cache, retries, timeout and the per-model concurrency gate."""

    def __init__(
        self,
        provider: ChatProvider,
        *,
        cache: ResponseCache | None = None,
        max_retries: int = 3,
        timeout: float = 60.0,
    ) -> None:
        self.provider = provider
        self.path = CallPath(cache, max_retries)
        self.timeout = timeout
        # A provider that can serve only so many calls at once (an in-process model) says so;
        # runs then queue at its shared gate (one per model), their clocks stopped while they wait.
        self._limit: int | None = getattr(provider, "max_concurrency", None)
        self._gate: asyncio.Semaphore | None = None

    @property
    def cache(self) -> ResponseCache | None:
        """The response cache this client reads and writes, or None when caching is off."""
        return self.path.cache

    async def chat(self, request: ChatRequest, *, repeat: int = 0) -> ChatOutcome:
        """One chat call: from the cache if there, else the provider with retries (queued at its gate if it has one)."""
        key = None
        if self.path.cache is not None:  # the payload is built only for a key
            key = self.path.key(self.provider.identity, self.provider.cache_payload(request), repeat)
        hit = self.path.cached(key)
        if hit is not None:
            return ChatOutcome(ChatResult.from_json_dict(hit), True, 0, 0.0)
        if not self._limit:
            return await self._call(request, key)
        if self._gate is None:
            self._gate = _shared_gate(self.provider.identity, self._limit)
        with paused():  # waiting for a turn does not count against the run's deadline
            await self._gate.acquire()
        try:
            return await self._call(request, key)
        finally:
            self._gate.release()

    async def _call(self, request: ChatRequest, key: str | None) -> ChatOutcome:
        started = time.perf_counter()
        result, attempts = await self.path.fetch(key, lambda: self.provider.chat(request, self.timeout),
                                                 ChatResult.to_json_dict)
        return ChatOutcome(result, False, attempts, time.perf_counter() - started)
