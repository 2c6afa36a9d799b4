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

import json
import re
import warnings
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from ...errors import PermutateError, PermutateWarning, RequestError
from ..llm.base import ChatRequest
from ..llm.client import LLMClient
from ..llm.local import tool_call_schema
from ..plugins.fetch import default_url_map
from ..plugins.loader import Plugin, PluginLoader
from ..plugins.openapi import Operation
from ..plugins.tools import build_toolset
from ..request.models import JobConfig, LLMConfig
from ..status import ERROR, Ending, from_counts
from ..store.stored_rows import StoredRows
from .events import JobStarted, Reporter, RunSeen
from .factory import JobResources, check_llm
from .result_base import Result
from .runner import Board, Finished, Job

__all__ = ["GenerateJob", "GeneratePlan", "GenerateResult", "plan_generate", "test_cases_of", "test_cases_yaml",
           "DEFAULT_GENERATE_MODEL"]

Row = dict[str, Any]

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
    cases: list[tuple[str, dict[str, Any]]] = []
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
    cases: list[dict[str, Any]] = []
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


@dataclass
class GeneratePlan:
    """What a generate job needs, checked before any model is called."""

    manifest: str
    plugin: Plugin
    operations: dict[str, Operation]
    per_operation: int
    llm: LLMConfig

    def request(self) -> dict[str, Any]:
        """What the job store keeps to plan the job again on resume: manifest, cases per operation, model."""
        return {"manifest": self.manifest, "per_operation": self.per_operation, "llm": self.llm.model_dump(mode="json")}


def plan_generate(manifest: str, *, per_operation: int = 5, llm: LLMConfig | dict[str, Any] | None = None,
                  provider: str | None = None, model: str | None = None, base_url: str | None = None,
                  api_key_env: str | None = None) -> GeneratePlan:
    """Load the plugin and check the model; one unit per operation."""
    if per_operation < 1:
        raise PermutateError(f"per_operation must be at least 1, got {per_operation}")
    config = resolve_llm(llm, provider=provider, model=model, base_url=base_url, api_key_env=api_key_env)
    check_llm(config, "llm")
    plugin = PluginLoader(default_url_map()).load(manifest)
    operations = build_toolset([plugin]).by_name
    if not operations:
        raise PermutateError(f"{manifest}: the plugin has no operations to write test cases for")
    return GeneratePlan(manifest, plugin, dict(operations), per_operation, config)


class GenerateResult(Result):
    """The test cases written for every operation, and the operations the model wrote none for.

    Attributes:
        job_id: The job's id in the job store.
        status: The job's status (``JobStatus``): SUCCESS, PARTIAL_SUCCESS, ERROR (no case written), CANCELLED.
        cases: The test cases, each a dict as a request's ``test_cases`` holds it.
        errors: One message per operation the model wrote no usable case for.
        record: The job store's record of the job (times, planned runs, error), when it was stored.
    """

    kind = "generate"
    __slots__ = ("job_id", "status", "cases", "errors", "record")

    def __init__(self, job_id: str | None, status: str, rows: list[Row], record: dict[str, Any] | None = None) -> None:
        self.job_id, self.status, self.record = job_id, status, record
        self.cases = [case for row in rows for case in row.get("cases") or ()]
        self.errors = [row["error"] for row in rows if row.get("error")]

    def to_dict(self) -> dict[str, Any]:
        """The job's id and status, the test cases written and the operations the model wrote none for."""
        return {"job_id": self.job_id, "status": str(self.status), "cases": self.cases, "errors": self.errors}

    def to_yaml(self, comment: str | None = None) -> str:
        """The ``test_cases:`` block, ready to paste into a request."""
        return test_cases_yaml(self.cases, comment=comment)

    def to_pandas(self) -> Any:
        """The test cases as a DataFrame, one row per case."""
        import pandas as pd

        return pd.DataFrame(self.cases)

    def __repr__(self) -> str:
        return f"GenerateResult({self.job_id!r}, status={self.status!r}, cases={len(self.cases)}, errors={len(self.errors)})"


class GenerateJob(Job[Row]):
    """One unit per operation: the model writes ``per_operation`` test cases for it."""

    kind = "generate"
    width = 4

    def __init__(self, plan: GeneratePlan) -> None:
        self.plan = plan
        self.name = f"generate {plan.plugin.name}"
        self._names = list(plan.operations)

    @classmethod
    def from_request(cls, request: dict[str, Any]) -> GenerateJob:
        """The job planned again from its stored manifest, count and model (resume)."""
        return cls(plan_generate(request["manifest"], per_operation=request["per_operation"], llm=request["llm"]))

    @classmethod
    def stored_result(cls, job: dict[str, Any], rows: StoredRows[Row]) -> GenerateResult:
        """The result from the stored record and rows: the cases written and the errors."""
        return GenerateResult(job["id"], job["status"], list(rows), job)

    @property
    def size(self) -> int:
        """One unit per operation of the plugin."""
        return len(self._names)

    def request(self) -> dict[str, Any]:
        """The plan's manifest, cases per operation and model, as the store keeps them for a resume."""
        return self.plan.request()

    def resources(self, cache: bool | None, width: int, context: Any) -> JobResources:
        """Default job settings; the cache is on unless ``cache=False``."""
        return JobResources(JobConfig(), use_cache=cache is not False, concurrency=width, context=context)

    async def prepare(self, resources: JobResources, width: int, reporter: Reporter) -> JobStarted:
        """Nothing to prepare: the start event names the plugin, one run per operation."""
        return JobStarted(self.name, self.size, (self.plan.plugin.name,), self.size)

    async def run(self, index: int, resources: JobResources) -> Row:
        """The model writes the operation's test cases; none usable raises, which makes the failed row."""
        name = self._names[index]
        cases = await _for_operation(resources.client(self.plan.llm), self.plan.llm, self.plan.plugin, name,
                                     self.plan.operations[name], self.plan.per_operation, self.plan.manifest)
        return {"operation": name, "cases": cases, "error": None}

    def failed(self, index: int, error: str, elapsed: float, attempts: int, timed_out: bool) -> Row:
        """The operation without cases, with the error (``test_cases_of`` warns about it)."""
        return {"operation": self._names[index], "cases": [], "error": error}

    def dump(self, row: Row) -> dict[str, Any]:
        """A generate row is a plain dict: stored as it is."""
        return row

    def restore(self, index: int, data: dict[str, Any]) -> Row:
        """The stored dict is the row."""
        return data

    def seen(self, row: Row) -> RunSeen:
        """Reporters count the operation toward the plugin's bar; it passed if cases were written."""
        return RunSeen.of(self.plan.plugin.name, row["error"] is None)

    def status(self, kept: Board[Row], finished: bool) -> Ending:
        """From the rows' errors; ERROR (NO_TEST_CASES, with the first error) when no operation got a case."""
        rows = kept.finished()
        failed = [row for row in rows if row["error"]]
        status = from_counts(len(failed), len(rows), finished)
        return Ending(status, "NO_TEST_CASES", failed[0]["error"]) if status == ERROR else Ending(status)

    def result(self, finished: Finished[Row]) -> GenerateResult:
        """The cases written and the errors, with the job's id, status and record."""
        return GenerateResult(finished.job_id, finished.status, finished.kept.finished(), finished.record)


def test_cases_of(result: GenerateResult) -> list[dict[str, Any]]:
    """The cases of a generate job; its first error if none was written, a warning for each other one."""
    if not result.cases:
        raise PermutateError(result.errors[0] if result.errors else "the model wrote no test case")
    for error in result.errors:
        warnings.warn(f"skipped: {error}", PermutateWarning, stacklevel=3)
    return result.cases


class _IndentedDumper(yaml.SafeDumper):
    """Lists indented under their key, as in the docs' requests."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
        return super().increase_indent(flow, False)


def test_cases_yaml(cases: list[dict[str, Any]], *, comment: str | None = None) -> str:
    """A ``test_cases:`` block, ready to paste into a request."""
    head = f"# {comment}\n" if comment else ""
    return head + yaml.dump({"test_cases": cases}, Dumper=_IndentedDumper, sort_keys=False, allow_unicode=True, width=120)


test_cases_yaml.__test__ = False  # type: ignore[attr-defined] # not a pytest test
