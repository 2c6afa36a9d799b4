"""Per-job resources: providers, LLM clients and selectors, built once and shared by runs.

Nothing here is global: a job owns its session pool, cache handle and clients, so two
jobs (or a later distributed executor) never share hidden state.
"""

from __future__ import annotations

import json
from typing import Callable

from ..errors import ConfigurationError
from .cache import ResponseCache
from .llm.base import ChatProvider
from .llm.client import LLMClient
from .llm.openai_chat import OpenAIChatProvider, SessionPool
from .llm.pricing import PriceTable
from .request import JobConfig, LLMConfig, Permutation
from .selectors.base import ToolSelector
from .selectors.openai_functions import OpenAIFunctionsSelector
from .tools import ToolSet

__all__ = ["JobResources", "PROVIDERS", "SELECTORS", "check_permutation"]


def _openai_chat(llm: LLMConfig, pool: SessionPool) -> ChatProvider:
    return OpenAIChatProvider(llm, pool)


def _local(llm: LLMConfig, pool: SessionPool) -> ChatProvider:
    from .llm.local import LocalProvider

    return LocalProvider(llm)


PROVIDERS: dict[str, Callable[[LLMConfig, SessionPool], ChatProvider]] = {
    "OpenAIChat": _openai_chat,
    "local": _local,
}
SELECTORS = ("OpenAI",)


def check_permutation(perm: Permutation, index: int) -> None:
    """Refuse, before anything runs, a provider or selector this version cannot run."""
    if perm.llm.provider not in PROVIDERS:
        raise ConfigurationError(
            f"permutations[{index}].llm.provider: unknown provider {perm.llm.provider!r}; "
            f"available: {', '.join(PROVIDERS)}"
        )
    if perm.llm.provider == "local":
        from .llm.local import check_local

        check_local(perm.llm.model_path)
    if perm.tool_selector.provider not in SELECTORS:
        raise ConfigurationError(
            f"permutations[{index}].tool_selector.provider: selector {perm.tool_selector.provider!r} "
            f"is not available; available: {', '.join(SELECTORS)}"
        )


class JobResources:
    def __init__(self, config: JobConfig, *, use_cache: bool, concurrency: int) -> None:
        self.config = config
        self.pool = SessionPool(concurrency)
        self.cache = ResponseCache() if use_cache else None
        self.prices = PriceTable(config.prices)
        self._clients: dict[str, LLMClient] = {}

    def client(self, llm: LLMConfig) -> LLMClient:
        """One client per distinct LLM configuration."""
        key = json.dumps(llm.model_dump(mode="json"), sort_keys=True)
        client = self._clients.get(key)
        if client is None:
            factory = PROVIDERS.get(llm.provider)
            if factory is None:
                raise ConfigurationError(f"unknown llm provider {llm.provider!r}; available: {', '.join(PROVIDERS)}")
            client = LLMClient(
                factory(llm, self.pool),
                cache=self.cache,
                max_retries=self.config.max_retries,
                timeout=self.config.timeout_sec,
            )
            self._clients[key] = client
        return client

    def selector(self, perm: Permutation, toolset: ToolSet) -> ToolSelector:
        return OpenAIFunctionsSelector(self.client(perm.llm), toolset, self.prices)

    async def aclose(self) -> None:
        if self.cache is not None:
            await self.cache.aflush()
            self.cache.close()
        for client in self._clients.values():
            await client.provider.aclose()
        await self.pool.aclose()
