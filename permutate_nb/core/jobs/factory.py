"""Per-job resources: providers, LLM clients and selectors, built once and shared by runs.

Nothing here is global: a job owns its session pool, cache handle and clients, so two
jobs (or a later distributed executor) never share hidden state. Providers and selectors
are registries (``PROVIDERS``, ``SELECTORS``); ``check_request`` refuses, before anything
runs, a combination this version cannot run.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...errors import ConfigurationError, MissingExtraError
from ...settings import env_value
from ..context import Context, default_context
from ..llm.base import ChatProvider
from ..llm.client import CallPath, LLMClient
from ..llm.openai_chat import OpenAIChatProvider, SessionPool, resolve_endpoint
from ..llm.pricing import PriceTable
from ..plugins.execute import OperationExecutor, auth_headers
from ..plugins.tools import ToolSet
from ..request.matrix import languages_of
from ..request.models import JobConfig, JobRequest, LLMConfig, Permutation
from ..selectors.base import ToolSelector
from ..store.cache import ResponseCache
from .events import Reporter
from .translate import untranslated_prompt

if TYPE_CHECKING:  # httpx is imported when a job first needs it (~80 ms at start-up)
    import httpx

__all__ = ["JobResources", "PROVIDERS", "SELECTORS", "SelectorKind", "check_conversations", "check_llm",
           "check_permutation", "check_request",
           "openplugin_key", "translator_llm"]


def _openai_chat(llm: LLMConfig, res: JobResources) -> ChatProvider:
    return OpenAIChatProvider(llm, res.pool)


def _openai_completion(llm: LLMConfig, res: JobResources) -> ChatProvider:
    from ..llm.openai_completion import OpenAICompletionProvider

    return OpenAICompletionProvider(llm, res.pool)


def _local(llm: LLMConfig, res: JobResources) -> ChatProvider:
    from ..llm.local import LocalProvider

    return LocalProvider(llm, res.context.models)


PROVIDERS: dict[str, Callable[[LLMConfig, JobResources], ChatProvider]] = {
    "OpenAIChat": _openai_chat,
    "OpenAI": _openai_completion,  # the legacy completions endpoint
    "local": _local,
}


# --------------------------------------------------------------------------- selectors


def _openai_selector(res: JobResources, perm: Permutation, toolset: ToolSet) -> ToolSelector:
    """Function calling on chat models; selection by prompt on a completion model."""
    client = res.client(perm.llm)
    if perm.llm.provider == "OpenAI":
        from ..selectors.prompt_selector import PromptSelector

        selector: ToolSelector = PromptSelector(client, toolset, res.prices)
    else:
        from ..selectors.openai_functions import OpenAIFunctionsSelector

        selector = OpenAIFunctionsSelector(client, toolset, res.prices)
    executor = res.executor()
    if executor is None:
        return selector
    from ..selectors.executing import ExecutingSelector

    return ExecutingSelector(selector, executor)


def _langchain_selector(res: JobResources, perm: Permutation, toolset: ToolSet) -> ToolSelector:
    from ..llm.langchain_models import build_langchain_model
    from ..selectors.langchain_agent import LangchainSelector

    client = res.client(perm.llm) if perm.llm.provider == "local" else None
    model = build_langchain_model(perm.llm, res.config, client=client, http=res.langchain_http())
    return LangchainSelector(
        model, toolset, res.prices, pipeline=perm.tool_selector.pipeline_name,
        model_name=client.provider.model if client else model.model_name,
        executor=res.executor(), endpoint=getattr(model, "openai_api_base", None) or "",
    )


def _remote_selector(res: JobResources, perm: Permutation, toolset: ToolSet) -> ToolSelector:
    from ..selectors.remote import RemoteSelector

    return RemoteSelector(
        res.http(), endpoint=res.config.tool_selector_endpoint or "", api_key=openplugin_key(res.config),
        provider=perm.tool_selector.provider, pipeline_name=perm.tool_selector.pipeline_name, llm=perm.llm,
        toolset=toolset, path=res.call_path(), timeout=res.config.timeout_sec,
    )


def _imprompt_selector(res: JobResources, perm: Permutation, toolset: ToolSet) -> ToolSelector:
    """The selector service at ``config.tool_selector_endpoint``; without one, the pipeline in-process."""
    if _remote(res.config):
        return _remote_selector(res, perm, toolset)
    from ..selectors.imprompt import ImpromptSelector

    return ImpromptSelector(res.client(perm.llm), toolset, res.prices, by_schema=perm.llm.provider == "local")


def _remote(config: JobConfig) -> bool:
    return bool(config.tool_selector_endpoint)


def _check_langchain(perm: Permutation, config: JobConfig, where: str) -> None:
    for module, package in (("langchain_core", "langchain-core"), ("langchain_openai", "langchain-openai")):
        if importlib.util.find_spec(module) is None:
            raise MissingExtraError(package, "langchain")
    if perm.llm.provider == "OpenAI" and perm.tool_selector.pipeline_name == "tool-calling":
        raise ConfigurationError(
            f"{where}.tool_selector.pipeline_name: a completion model (provider OpenAI) has no tool calling; "
            "use zero-shot-react-description or a chat provider"
        )


def openplugin_key(config: JobConfig) -> str | None:
    """``config.openplugin_api_key``, else the environment variable ``config.openplugin_api_key_env`` names.

    Keys are never stored: a resumed job finds its key in the environment again.
    """
    if config.openplugin_api_key or not config.openplugin_api_key_env:
        return config.openplugin_api_key
    key = env_value(config.openplugin_api_key_env)
    if not key:
        raise ConfigurationError(
            f"config.openplugin_api_key_env names {config.openplugin_api_key_env}, but that environment variable "
            "is not set (keys are not stored: a resumed job reads its key from the environment)"
        )
    return key


@dataclass(frozen=True, slots=True)
class SelectorKind:
    """A tool selector: the LLM providers and pipelines it takes, how to check and build it."""

    build: Callable[[JobResources, Permutation, ToolSet], ToolSelector]
    providers: tuple[str, ...] | None  # None: any
    pipelines: tuple[str, ...] | None  # None: any name (it is reported, not interpreted)
    check: Callable[[Permutation, JobConfig, str], None] | None = None
    remote: Callable[[JobConfig], bool] | None = None  # true: a remote service runs the model, any provider


SELECTORS: dict[str, SelectorKind] = {
    "OpenAI": SelectorKind(_openai_selector, ("OpenAIChat", "OpenAI", "local"), None),
    "Langchain": SelectorKind(_langchain_selector, ("OpenAIChat", "OpenAI", "local"),
                              ("zero-shot-react-description", "tool-calling"), _check_langchain),
    "Imprompt": SelectorKind(_imprompt_selector, ("OpenAIChat", "OpenAI", "local"), None, remote=_remote),
}


def check_llm(llm: LLMConfig, where: str, *, keys: bool = True) -> None:
    """The provider exists, the local model is installed and (``keys``) the API key is there.

    Keys are not needed to validate a request or show its matrix, only to run it.
    """
    if llm.provider not in PROVIDERS:
        raise ConfigurationError(f"{where}.provider: unknown provider {llm.provider!r}; available: {', '.join(PROVIDERS)}")
    if keys and llm.provider in ("OpenAIChat", "OpenAI"):
        resolve_endpoint(llm.base_url, llm.api_key_env)
    if llm.provider == "local":
        from ..llm.local import check_local

        check_local(llm.model_path)


def check_permutation(perm: Permutation, index: int, config: JobConfig | None = None, *, keys: bool = True) -> None:
    """Refuse, before anything runs, a provider or selector this version cannot run."""
    where = f"permutations[{index}]"
    kind = SELECTORS.get(perm.tool_selector.provider)
    if kind is None:
        raise ConfigurationError(
            f"{where}.tool_selector.provider: selector {perm.tool_selector.provider!r} "
            f"is not available; available: {', '.join(SELECTORS)}"
        )
    config = config or JobConfig()
    if kind.providers is not None and not (kind.remote is not None and kind.remote(config)):
        check_llm(perm.llm, f"{where}.llm", keys=keys)
        if perm.llm.provider not in kind.providers:
            raise ConfigurationError(
                f"{where}.llm.provider: selector {perm.tool_selector.provider} cannot use provider "
                f"{perm.llm.provider!r}; use one of {', '.join(kind.providers)}"
            )
    if kind.pipelines is not None and perm.tool_selector.pipeline_name not in kind.pipelines:
        raise ConfigurationError(
            f"{where}.tool_selector.pipeline_name: selector {perm.tool_selector.provider} has no pipeline "
            f"{perm.tool_selector.pipeline_name!r}; available: {', '.join(kind.pipelines)}"
        )
    if kind.check is not None:
        kind.check(perm, config, where)


def translator_llm(request: JobRequest) -> LLMConfig:
    """The model that translates prompts: ``config.translator``, else the first permutation's."""
    return request.config.translator or request.permutations[0].llm


def check_request(request: JobRequest, *, keys: bool = True) -> None:
    """Every permutation, the translator (when a language needs one) and operation auth."""
    for i, perm in enumerate(request.permutations):
        check_permutation(perm, i, request.config, keys=keys)
    if any(untranslated_prompt(case, language) is None
           for language in languages_of(request) for case in request.test_cases):
        where = "config.translator" if request.config.translator else "permutations[0].llm (the translator)"
        check_llm(translator_llm(request), where, keys=keys)
    check_conversations(request)
    if request.config.execute_operations:
        auth_headers(request)
    if keys and _remote(request.config) and any(p.tool_selector.provider == "Imprompt" for p in request.permutations):
        openplugin_key(request.config)
    if _remote(request.config):
        for i, perm in enumerate(request.permutations):
            kind = SELECTORS.get(perm.tool_selector.provider)
            named = [ref.location for ref in request.group(perm.tool_selector.plugin_group_name).plugins
                     if ref.manifest_url is None]
            if kind is not None and kind.remote is not None and named:
                raise ConfigurationError(
                    f"permutations[{i}].tool_selector: the selector service at config.tool_selector_endpoint loads "
                    f"plugins by manifest URL; {named[0]!r} is an MCP server or function schemas (use the OpenAI or "
                    "Langchain selector, or Imprompt without tool_selector_endpoint)")


def check_conversations(request: JobRequest) -> None:
    """Conversations need a chat model with tools and the OpenAI selector (it carries the history)."""
    if not any(case.type == "conversation" for case in request.test_cases):
        return
    for i, perm in enumerate(request.permutations):
        if perm.tool_selector.provider != "OpenAI" or perm.llm.provider not in ("OpenAIChat", "local"):
            raise ConfigurationError(
                f"permutations[{i}]: conversation test cases run on tool_selector.provider OpenAI with llm.provider "
                f"OpenAIChat or local (function calling over a chat history); this one is "
                f"{perm.tool_selector.provider} on {perm.llm.provider}")


class JobResources:
    """One job's clients, HTTP sessions, cache and prices, shared by its units and closed by the runner."""

    def __init__(self, config: JobConfig, *, use_cache: bool, concurrency: int, request: JobRequest | None = None,
                 context: Context | None = None) -> None:
        self.config = config
        self.context = context or default_context()
        self.request = request
        self.concurrency = concurrency
        self.pool = SessionPool(concurrency, config.max_response_bytes)
        self.cache = ResponseCache() if use_cache else None
        self.prices = PriceTable(config.prices)
        self._clients: dict[str, LLMClient] = {}
        self._http: httpx.AsyncClient | None = None
        self._langchain_http: httpx.AsyncClient | None = None
        self._executor: OperationExecutor | None = None
        self._tools: Any = None  # the job's MCP servers and Python functions (tool_sources.ToolCalls)

    def client(self, llm: LLMConfig) -> LLMClient:
        """One client per distinct LLM configuration."""
        key = json.dumps(llm.model_dump(mode="json"), sort_keys=True)
        client = self._clients.get(key)
        if client is None:
            factory = PROVIDERS.get(llm.provider)
            if factory is None:
                raise ConfigurationError(f"unknown llm provider {llm.provider!r}; available: {', '.join(PROVIDERS)}")
            client = LLMClient(
                factory(llm, self),
                cache=self.cache,
                max_retries=self.config.max_retries,
                timeout=self.config.timeout_sec,
            )
            self._clients[key] = client
        return client

    def call_path(self) -> CallPath:
        """The job's cache and retry policy, for calls that are not a provider's (selector services, LangChain)."""
        return CallPath(self.cache, self.config.max_retries)

    def http(self) -> httpx.AsyncClient:
        """The job's httpx client (LangChain's models, selector services, executed operations).

        Its requests ride the job's aiohttp sessions (``AiohttpTransport``): one pool per endpoint.
        """
        if self._http is None:
            import httpx

            from ..llm.aiohttp_transport import AiohttpTransport
            from ..plugins.url_policy import event_hooks

            self._http = httpx.AsyncClient(transport=AiohttpTransport(self.pool), timeout=self.config.timeout_sec,
                                           follow_redirects=True, event_hooks=event_hooks())
        return self._http

    def langchain_http(self) -> httpx.AsyncClient:
        """The httpx client of LangChain's models: the job's aiohttp sessions behind the one call path."""
        if self._langchain_http is None:
            import httpx

            from ..llm.aiohttp_transport import AiohttpTransport
            from ..llm.langchain_models import CallPathTransport

            transport = CallPathTransport(AiohttpTransport(self.pool), self.call_path())
            from ..plugins.url_policy import event_hooks

            self._langchain_http = httpx.AsyncClient(transport=transport, timeout=self.config.timeout_sec,
                                                     follow_redirects=True, event_hooks=event_hooks())
        return self._langchain_http

    def executor(self) -> OperationExecutor | None:
        """The operation executor when ``config.execute_operations`` is on, else None."""
        if not self.config.execute_operations:
            return None
        if self._executor is None:
            from ..plugins.tool_sources import ToolCalls

            auth = auth_headers(self.request) if self.request is not None else {}
            self._tools = ToolCalls(self.request, self.config.timeout_sec)
            self._executor = OperationExecutor(self.http(), timeout=self.config.timeout_sec, auth=auth, tools=self._tools)
        return self._executor

    async def load_local_models(self, request: JobRequest, reporter: Reporter) -> None:
        """Load the embedded model before translation and runs, telling the reporter (a stage of its own)."""
        models = {(llm.model_path, llm.model_name): llm for llm in (translator_llm(request), *(p.llm for p in request.permutations))
                  if llm.provider == "local"}
        for llm in models.values():
            reporter.stage("loading the model", llm.model_name or "")
            await self.client(llm).provider.load()  # type: ignore[attr-defined]

    def selector(self, perm: Permutation, toolset: ToolSet) -> ToolSelector:
        """The permutation's tool selector over ``toolset``, built by its ``tool_selector.provider``."""
        return SELECTORS[perm.tool_selector.provider].build(self, perm, toolset)

    async def aclose(self) -> None:
        """Stop the job's MCP servers first, then close the cache, every provider, the sessions and HTTP clients."""
        if self._tools is not None:  # first: the job's MCP servers stop even if a close below fails
            await self._tools.aclose()
        if self.cache is not None:
            await self.cache.aclose()
        for client in self._clients.values():
            await client.provider.aclose()
        await self.pool.aclose()
        for http in (self._http, self._langchain_http):
            if http is not None:
                await http.aclose()
