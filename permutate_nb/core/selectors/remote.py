"""Selector ``Imprompt``: a remote OpenPlugin-style selector service does the choosing.

The original permutate sent each test case to ``{tool_selector_endpoint}/api/plugin-selector``
(plugin_selector cases) or ``/api/api-signature-selector`` (api_signature_selector cases)
with the key in ``x-api-key``; this keeps that wire format so the same services can be
compared with local selectors in one job. The reply names the detected plugin, the
operation URL, method and mapped parameters, and reports tokens, cost and time.
Calls go through the engine's one call path (``CallPath``): replies are cached like model
answers, and 429, 5xx and timeouts are retried by the same policy.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import httpx

from ...errors import ProviderError, TransientProviderError
from ...settings import env_value
from ..llm.client import CallPath
from ..llm.openai_chat import status_error
from ..plugins.tools import ToolSet
from ..request.locations import normalise_url
from ..request.models import LLMConfig
from .base import Selection

__all__ = ["RemoteSelector", "REMOTE_PATHS", "check_reply", "selection_from_reply"]

REMOTE_PATHS = {"plugin_selector": "/api/plugin-selector", "api_signature_selector": "/api/api-signature-selector"}
_LOCAL_ONLY = {"base_url", "api_key_env", "transport", "model_path", "extra_body", "replaces"}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _group_plugins(toolset: ToolSet) -> dict[str, str]:
    """The group's plugins (id -> name) in order, as its operations name them."""
    plugins: dict[str, str] = {}
    for operation in toolset.by_name.values():
        plugins.setdefault(operation.plugin_id, operation.plugin_name)
    return plugins


def check_reply(data: Any, where: str) -> dict[str, Any]:
    """The reply if it is an object of a completed run (only those are cached), else ProviderError."""
    if not isinstance(data, dict):
        raise ProviderError(f"{where} answered with JSON that is not an object: {json.dumps(data)[:160]}")
    if data.get("run_completed") is False:
        reason = data.get("final_text_response") or data.get("message") or "no reason given"
        raise ProviderError(f"{where} reports run_completed: false ({str(reason)[:200]})")
    return data


def selection_from_reply(data: Any, plugins: Mapping[str, str], selection: Selection, where: str) -> Selection:
    """Fill ``selection`` from a selector service's reply; an unreadable reply raises ProviderError."""
    check_reply(data, where)
    selection.final_output = data.get("final_text_response")
    tokens = data.get("tokens_used")
    selection.total_tokens = int(tokens) if _number(tokens) is not None else 0
    selection.cost = _number(data.get("llm_api_cost"))
    selection.elapsed = _number(data.get("response_time"))
    operations = data.get("detected_plugin_operations")
    first = operations[0] if isinstance(operations, list) and operations else None
    if isinstance(first, dict):
        plugin = first.get("plugin")
        manifest = plugin.get("manifest_url") if isinstance(plugin, dict) else plugin
        name = plugin.get("name") if isinstance(plugin, dict) else None
        url, method, arguments = first.get("api_called"), first.get("method"), first.get("mapped_operation_parameters")
    elif isinstance(data.get("detected_plugin"), str):  # newer plugin-selector replies name only the plugin
        manifest, name, url, method, arguments = data["detected_plugin"], None, None, None, None
    else:
        selection.note = "the remote selector detected no plugin"
        selection.raw_response = json.dumps(data)[:2000]
        return selection
    known = next((pid for pid, pname in plugins.items() if isinstance(manifest, str)
                  and (normalise_url(pid) == normalise_url(manifest) or pname == manifest)), None)
    selection.plugin_id = known or (manifest if isinstance(manifest, str) else None)
    selection.plugin_name = name or (plugins[known] if known else None)
    selection.url = url if isinstance(url, str) and url else None
    selection.method = method.upper() if isinstance(method, str) and method else None
    if isinstance(arguments, dict):
        selection.arguments = arguments
    elif arguments is not None:
        selection.note = "mapped_operation_parameters is not an object"
        selection.raw_response = json.dumps(arguments)[:2000]
    return selection


class RemoteSelector:
    """Selector ``Imprompt`` with an endpoint: a remote OpenPlugin-style service picks, over the engine's call path."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        endpoint: str,
        api_key: str | None,
        provider: str,
        pipeline_name: str,
        llm: LLMConfig,
        toolset: ToolSet,
        path: CallPath,
        timeout: float,
    ) -> None:
        self._client = client
        self._endpoint = endpoint.rstrip("/")
        self._headers = {"Content-Type": "application/json"}
        if api_key:
            self._headers["x-api-key"] = api_key
        self._plugins = _group_plugins(toolset)
        self._path = path
        self._timeout = timeout
        config: dict[str, Any] = {"provider": llm.provider}
        key = env_value(llm.api_key_env)
        if key:  # opt-in: the user named the key to send
            config["openai_api_key"] = key
        self._body = {
            "plugins": [{"manifest_url": plugin_id} for plugin_id in self._plugins],
            "config": config,
            "tool_selector_config": {"provider": provider, "pipeline_name": pipeline_name},
            "llm": llm.model_dump(mode="json", exclude_none=True, exclude=_LOCAL_ONLY),
        }

    async def select(self, prompt: str, *, repeat: int, test_type: str = "api_signature_selector") -> Selection:
        """POST ``prompt`` to the service's path for ``test_type`` (cached, retried) and read its pick."""
        url = self._endpoint + REMOTE_PATHS.get(test_type, REMOTE_PATHS["api_signature_selector"])
        body = json.dumps({"messages": [{"content": prompt, "message_type": "HumanMessage"}], **self._body})
        key = self._path.key(f"remote|{url}", body, repeat)
        hit = self._path.cached(key)
        if hit is not None:
            selection = selection_from_reply(hit, self._plugins, Selection(cached=True, attempts=0), url)
            selection.elapsed = 0.0  # like every cached run: no time spent on calls
            return selection
        started = time.perf_counter()
        data, attempts = await self._path.fetch(key, lambda: self._post_once(url, body), _as_cached)
        selection = selection_from_reply(data, self._plugins, Selection(attempts=attempts), url)
        if selection.elapsed is None:
            selection.elapsed = time.perf_counter() - started
        return selection

    async def _post_once(self, url: str, body: str) -> Any:
        try:
            response = await self._client.post(url, content=body, headers=self._headers, timeout=self._timeout)
        except httpx.TimeoutException:
            raise TransientProviderError(f"no answer from {url} within {self._timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise TransientProviderError(f"cannot reach {url}: {type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise status_error(response.status_code, response.content, url, response.headers.get("Retry-After"),
                               key_hint="check config.openplugin_api_key")
        try:
            data = response.json()
        except ValueError:
            raise ProviderError(f"{url} answered with something that is not JSON: {response.text[:160]!r}") from None
        return check_reply(data, url)


def _as_cached(data: dict[str, Any]) -> dict[str, Any]:
    """A reply is cached as it came."""
    return data
