"""Test cases from a plugin's own description: ``permutate generate`` and ``generate_test_cases``.

Writing test cases by hand is the slow part of evaluating a plugin. For each operation, an
LLM is shown the operation (method, URL, summary, parameters) and its OpenPlugin
``human_usage_examples`` (or, without them, its summary) and writes N new requests with the
parameters each implies. Each becomes a test case naming the plugin, operation and method;
one with parameters is an ``api_signature_selector`` case, one without a ``plugin_selector``
case. Parameters the operation does not have are dropped. The result is a ``test_cases:``
YAML block ready to paste into a request (review it: the model can be wrong).
"""

from __future__ import annotations

import asyncio
import json
import re
import warnings
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ...errors import PermutateError, PermutateWarning, RequestError
from .factory import JobResources, check_llm
from ..plugins.fetch import default_url_map
from ..llm.base import ChatRequest
from ..llm.client import LLMClient
from ..llm.local import tool_call_schema
from ..plugins.openapi import Operation
from ..plugins.loader import Plugin, PluginLoader
from ..request.models import JobConfig, LLMConfig
from .runner import blocking
from ..plugins.tools import build_toolset

__all__ = ["generate_test_cases", "generate_test_cases_async", "test_cases_yaml", "DEFAULT_GENERATE_MODEL"]

DEFAULT_GENERATE_MODEL = "gpt-4o-mini"
_NUMBERED = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s*")
_PROMPT = """You write test prompts for one operation of the API plugin "{plugin}".
{description}
Operation: {method} {url} - {summary}
Parameters:
{parameters}
Requests users make with it, for example:
{examples}

Write {n} new, varied requests a user might type that this operation fulfils, in the same style. \
For each, give the parameters the operation would be called with: only the parameter names above, \
only values the request states.
Answer with JSON only: {{"cases": [{{"prompt": "...", "parameters": {{"name": "value"}}}}]}}"""


def _parameter_lines(operation: Operation) -> str:
    props = operation.parameters.get("properties") or {}
    required = set(operation.parameters.get("required") or ())
    lines = []
    for name, spec in props.items():
        spec = spec if isinstance(spec, dict) else {}
        description = str(spec.get("description") or "").strip()
        text = description.splitlines()[0][:160] if description else ""
        kind = spec.get("type", "any")
        lines.append(f"- {name} ({kind}{', required' if name in required else ''}){': ' + text if text else ''}")
    return "\n".join(lines) or "(none)"


def build_prompt(plugin: Plugin, operation: Operation, n: int) -> str:
    examples = operation.human_usage_examples or (operation.summary or operation.description or operation.url,)
    return _PROMPT.format(
        plugin=plugin.name, description=plugin.description[:300], method=operation.method, url=operation.url,
        summary=operation.summary or operation.description, parameters=_parameter_lines(operation),
        examples="\n".join(f"- {e}" for e in examples), n=n,
    )


def _response_format(llm: LLMConfig, operation: Operation, n: int) -> dict[str, Any] | None:
    """The local model decodes under a schema (exactly n cases); chat servers get JSON mode."""
    if llm.provider == "local":
        tool = {"function": {"name": "case", "parameters": operation.parameters}}
        arguments = tool_call_schema([tool])["properties"]["arguments"]  # the flat, bounded form
        item = {"type": "object", "properties": {"prompt": {"type": "string", "maxLength": 100}, "parameters": arguments},
                "required": ["prompt", "parameters"]}
        schema = {"type": "object", "properties": {"cases": {"type": "array", "items": item, "minItems": n, "maxItems": n}},
                  "required": ["cases"]}
        return {"type": "json_object", "schema": schema}
    if llm.provider == "OpenAIChat":
        return {"type": "json_object"}
    return None


def parse_cases(text: str) -> list[tuple[str, dict[str, Any]]]:
    """``(prompt, parameters)`` pairs from the model's JSON; a plain list of lines gives prompts only."""
    data: Any = None
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start >= 0:
        try:
            data, _ = json.JSONDecoder().raw_decode(text[start:])
        except ValueError:
            data = None
    items = data.get("cases") if isinstance(data, dict) else data
    if not isinstance(items, list):
        lines = [_NUMBERED.sub("", line).strip().strip('"') for line in text.splitlines()]
        return [(line, {}) for line in lines if line and not line.endswith(":")]
    cases = []
    for item in items:
        if isinstance(item, str):
            cases.append((item.strip(), {}))
        elif isinstance(item, dict) and isinstance(item.get("prompt"), str):
            params = item.get("parameters")
            cases.append((item["prompt"].strip(), params if isinstance(params, dict) else {}))
    return [(p, params) for p, params in cases if p]


def _test_case(name: str, prompt: str, params: dict[str, Any], operation: Operation, manifest: str) -> dict[str, Any]:
    known = operation.parameters.get("properties") or {}
    params = {k: v for k, v in params.items() if k in known and v not in (None, "", [], {})}
    case: dict[str, Any] = {
        "name": name,
        "type": "api_signature_selector" if params else "plugin_selector",
        "prompt": prompt,
        "expected_plugin_used": manifest,
        "expected_api_used": operation.url,
        "expected_method": operation.method.lower(),
    }
    if params:
        case["expected_parameters"] = params
    return case


async def _for_operation(client: LLMClient, llm: LLMConfig, plugin: Plugin, name: str, operation: Operation,
                         n: int, manifest: str) -> list[dict[str, Any]]:
    request = ChatRequest(messages=({"role": "user", "content": build_prompt(plugin, operation, n)},),
                          response_format=_response_format(llm, operation, n))
    outcome = await client.chat(request)
    seen: set[str] = set()
    cases = []
    for prompt, params in parse_cases(outcome.result.content or ""):
        if prompt.casefold() in seen or len(cases) == n:
            continue
        seen.add(prompt.casefold())
        cases.append(_test_case(f"{name}_{len(cases) + 1}", prompt, params, operation, manifest))
    if not cases:
        raise PermutateError(f"the model wrote no usable test case for {operation.method} {operation.url}: "
                             f"{(outcome.result.content or '')[:120]!r}")
    return cases


def resolve_llm(llm: LLMConfig | dict[str, Any] | None = None, *, provider: str | None = None,
                model: str | None = None, base_url: str | None = None, api_key_env: str | None = None) -> LLMConfig:
    """``llm`` as given, else one from provider (default OpenAIChat), model, base URL and key variable."""
    if isinstance(llm, LLMConfig):
        return llm
    if isinstance(llm, dict):
        return LLMConfig.model_validate(llm)
    provider = provider or "OpenAIChat"
    if model is None and provider == "OpenAIChat":
        model = DEFAULT_GENERATE_MODEL
    try:
        return LLMConfig(provider=provider, model_name=model, base_url=base_url, api_key_env=api_key_env)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise RequestError(f"--{'-'.join(map(str, first['loc'])).replace('_', '-')}: {first['msg'].removeprefix('Value error, ')}") from None


async def generate_test_cases_async(
    manifest: str,
    *,
    per_operation: int = 5,
    llm: LLMConfig | dict[str, Any] | None = None,
    provider: str | None = None,
    model: str | None = None,
    base_url: str | None = None,
    cache: bool = True,
    concurrency: int = 4,
) -> list[dict[str, Any]]:
    """Test cases (request-form dicts) for every operation of the plugin at ``manifest``."""
    if per_operation < 1:
        raise PermutateError(f"per_operation must be at least 1, got {per_operation}")
    config = resolve_llm(llm, provider=provider, model=model, base_url=base_url)
    check_llm(config, "llm")
    plugin = await asyncio.to_thread(lambda: PluginLoader(default_url_map()).load(manifest))
    operations = build_toolset([plugin]).by_name
    if not operations:
        raise PermutateError(f"{manifest}: the plugin has no operations to write test cases for")
    resources = JobResources(JobConfig(), use_cache=cache, concurrency=concurrency)
    gate = asyncio.Semaphore(concurrency)

    async def one(name: str, operation: Operation) -> list[dict[str, Any]] | PermutateError:
        async with gate:
            try:
                return await _for_operation(resources.client(config), config, plugin, name, operation, per_operation, manifest)
            except PermutateError as exc:
                return exc

    try:
        outcomes = await asyncio.gather(*(one(name, op) for name, op in operations.items()))
    finally:
        await resources.aclose()
    cases = [case for outcome in outcomes if isinstance(outcome, list) for case in outcome]
    errors = [outcome for outcome in outcomes if isinstance(outcome, PermutateError)]
    if not cases:
        raise errors[0]
    for error in errors:
        warnings.warn(f"skipped: {error}", PermutateWarning, stacklevel=2)
    return cases


def generate_test_cases(manifest: str, *, output: str | Path | None = None, **kwargs: Any) -> list[dict[str, Any]]:
    """Blocking ``generate_test_cases_async``; with ``output``, also writes the YAML block there.

        >>> cases = pn.generate_test_cases("Klarna_Shopping.json", per_operation=3, provider="local")
        >>> print(pn.test_cases_yaml(cases))
    """
    cases = blocking(generate_test_cases_async(manifest, **kwargs))
    if output is not None:
        Path(output).write_text(test_cases_yaml(cases), encoding="utf-8")
    return cases


class _IndentedDumper(yaml.SafeDumper):
    """Lists indented under their key, as in the docs' requests."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
        return super().increase_indent(flow, False)


def test_cases_yaml(cases: list[dict[str, Any]], *, comment: str | None = None) -> str:
    """A ``test_cases:`` block, ready to paste into a request."""
    head = f"# {comment}\n" if comment else ""
    return head + yaml.dump({"test_cases": cases}, Dumper=_IndentedDumper, sort_keys=False, allow_unicode=True, width=120)


test_cases_yaml.__test__ = False  # type: ignore[attr-defined] # not a pytest test
