"""The permutate request: pydantic models, loading from file / string / dict, validation.

The OpenPlugin docs show two shapes for list items. In the *flat* one the YAML
``- plugin_group:`` line parses to a null ``plugin_group`` key whose siblings carry the
fields; in the *nested* one the fields sit inside that key. Both, and the plain form
without the key, are normalised here before validation, so the rest of the engine sees
one shape. Errors name the field path and, when the request came from YAML, its line.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)

from ...errors import PermutateWarning, RequestError
from ...settings import settings
from ..executors.spec import ExecutorSpec
from ..scoring.matching import matcher_problems
from .locations import resolve_location
from .safe_load import load_json, names_a_path, read_text
from .yaml_lines import LineIndex, parse_yaml_with_lines

__all__ = [
    "JobRequest",
    "JobConfig",
    "LLMConfig",
    "ToolSelectorConfig",
    "Permutation",
    "PluginRef",
    "McpSpec",
    "OperationAuth",
    "PluginGroup",
    "TestCase",
    "ExpectedCall",
    "Turn",
    "TurnCall",
    "load_request",
]

DEFAULT_LOCAL_MODEL = "SmolLM2-135M-Instruct"  # the embedded model's name when llm.model_path is not set
TEST_CASE_TYPES = ("plugin_selector", "api_signature_selector", "conversation")
TrajectoryMatch = Literal["strict", "unordered", "subset", "superset"]
#: ``backend: package.module:Class``: an import path, checked for shape here and imported when the job is planned
_BACKEND_PATH = re.compile(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*")
ParameterMatching = Literal["lenient", "strict", "bfcl"]
FunctionLanguage = Literal["python", "java", "javascript"]
_WRAPPERS = {"plugin_groups": "plugin_group", "plugins": "plugin", "permutations": "permutation", "test_cases": "test_case"}


def _named(value: str) -> str:
    if not value.strip():
        raise ValueError("the name is empty; give it a name")
    return value


#: A ``name``: not empty, not only spaces (it labels rows, sheets and summaries).
Name = Annotated[str, AfterValidator(_named)]


class _Strict(BaseModel):
    # NaN and Infinity are refused in every number: the result JSON would carry NaN, which is not JSON
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)


class OperationAuth(_Strict):
    """How an executed operation authenticates (``config.execute_operations``): none, or a bearer
    token read from the environment variable ``token_env`` (the request never holds the secret)."""

    type: Literal["none", "bearer"] = "none"
    token_env: str | None = None

    @model_validator(mode="after")
    def _bearer_needs_env(self) -> OperationAuth:
        if self.type == "bearer" and not self.token_env:
            raise ValueError("a bearer auth needs token_env, the name of the environment variable holding the token")
        return self


class McpSpec(_Strict):
    """An MCP server: ``command`` (argv, over stdio, with ``env`` and ``cwd``) or ``url`` (streamable HTTP,
    with ``headers``). Values in ``env`` and ``headers`` may name environment variables as ``${NAME}``, or
    be ``{env: NAME}``: the request (and the job store) holds the name, never the secret."""

    command: list[str] | None = None
    env: dict[str, str | dict[str, str]] = Field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str | dict[str, str]] = Field(default_factory=dict)

    @field_validator("command", mode="before")
    @classmethod
    def _argv(cls, value: Any) -> Any:
        if isinstance(value, str):  # "uvx mcp-server-time": split like a shell would
            import shlex

            return shlex.split(value)
        return value

    @model_validator(mode="after")
    def _one_transport(self) -> McpSpec:
        if (self.command is None) == (self.url is None):
            raise ValueError("give exactly one of command (a stdio server: [program, args...]) or url (streamable HTTP)")
        if self.command is not None and (not self.command or not self.command[0].strip()):
            raise ValueError("command is empty: give the program and its arguments, e.g. [uvx, mcp-server-time]")
        if self.url is not None and not self.url.strip().lower().startswith(("http://", "https://")):
            raise ValueError(f"url {self.url!r} must be an http(s) URL, e.g. http://127.0.0.1:8000/mcp")
        for field_name in ("env", "headers"):
            for key, value in getattr(self, field_name).items():
                if isinstance(value, dict) and (set(value) != {"env"} or not isinstance(value["env"], str)):
                    raise ValueError(f"{field_name}.{key}: give a string or {{env: NAME}}")
        return self


class PluginRef(_Strict):
    """A plugin: a manifest or OpenAPI document (``manifest_url``), or a named tool source: an MCP
    server (``mcp``) or function schemas (``functions``: a JSON file or an inline list). Expectations
    name a manifest plugin by its location and a named source by its ``name``."""

    manifest_url: str | None = None
    name: str | None = None
    mcp: McpSpec | None = None
    functions: str | list[dict[str, Any]] | None = None
    auth: OperationAuth | None = None

    @field_validator("manifest_url")
    @classmethod
    def _not_empty(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("manifest_url is empty: give the manifest's URL or file path")
        return value.strip() if value is not None else None

    @model_validator(mode="after")
    def _one_source(self) -> PluginRef:
        given = [key for key in ("manifest_url", "mcp", "functions") if getattr(self, key) is not None]
        if len(given) != 1:
            raise ValueError("a plugin needs exactly one of manifest_url, mcp (an MCP server) or functions "
                             f"(function schemas); got {', '.join(given) or 'none'}")
        if self.manifest_url is None and not (self.name or "").strip():
            raise ValueError(f"a plugin with {given[0]} needs a name (what expected_plugin_used names)")
        if self.manifest_url is None and self.auth is not None:
            raise ValueError("auth is for manifest plugins; an MCP server over HTTP takes headers "
                             "(e.g. {Authorization: 'Bearer ${TOKEN}'})")
        if self.manifest_url is not None and self.name is not None:
            raise ValueError("name is for mcp and functions plugins; a manifest plugin is named by its manifest_url")
        return self

    @property
    def location(self) -> str:
        """What identifies the plugin (its ``Plugin.id``): the manifest location, or the source's name."""
        return self.manifest_url if self.manifest_url is not None else str(self.name).strip()


class PluginGroup(_Strict):
    """A named set of plugins that a permutation's tool selector chooses among."""

    name: Name
    plugins: list[PluginRef] = Field(min_length=1)


class LLMConfig(_Strict):
    """One permutation's model and its sampling settings (OpenAI parameter names)."""

    provider: str = "OpenAIChat"
    model_name: str | None = None
    temperature: float | None = None
    max_tokens: int | None = Field(None, ge=1)
    top_p: float | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    n: int | None = None
    best_of: int | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    transport: Literal["http", "sdk"] = "http"
    model_path: str | None = None
    extra_body: dict[str, Any] | None = None  # server-specific fields, e.g. llama.cpp's repeat_penalty
    replaces: str | None = None  # set by --provider: the model the request named (credited as "X → local Y")

    @field_validator("base_url")
    @classmethod
    def _http_base_url(cls, value: str | None) -> str | None:
        if value is not None and not value.strip().lower().startswith(("http://", "https://")):
            raise ValueError(f"base_url {value!r} must be an http(s) URL, e.g. http://127.0.0.1:8000/v1")
        return value

    @field_serializer("temperature", "top_p", "frequency_penalty", "presence_penalty")
    def _whole_as_integer(self, value: float | None) -> float | int | None:
        """A whole number is written as the start-job document writes it (``"temperature": 0``, not ``0.0``):
        a client that reads it as an integer, as the document's example suggests, still can."""
        return int(value) if value is not None and value.is_integer() else value

    @model_validator(mode="after")
    def _name_local_model(self) -> LLMConfig:
        if self.provider == "local" and not self.model_name:
            self.model_name = Path(self.model_path).stem if self.model_path else DEFAULT_LOCAL_MODEL
        return self

    def summary(self) -> str:
        """The model as the permutation summary shows it, e.g. ``OpenAIChat[gpt-4o]``."""
        return f"{self.provider}[{self.model_name or 'default'}]"

    def answered_by(self) -> str:
        """The model that answers: ``gpt-4o-mini``, ``local SmolLM2-135M-Instruct``."""
        if self.provider == "local":
            return f"local {self.model_name}"
        return self.summary() if self.replaces or not self.model_name else self.model_name  # a switched provider shows

    def credit(self) -> str:
        """Who answered, and whom ``--provider`` put it in for: ``gpt-4o-mini → local SmolLM2-135M-Instruct``."""
        return f"{self.replaces} → {self.answered_by()}" if self.replaces else self.answered_by()


class ToolSelectorConfig(_Strict):
    """How a permutation picks tools: the selector, its pipeline and the plugin group it picks from."""

    provider: str = "OpenAI"
    pipeline_name: str = "default"
    plugin_group_name: str


class Permutation(_Strict):
    """One variant under test: a named pair of model settings and tool selector."""

    name: Name
    llm: LLMConfig
    tool_selector: ToolSelectorConfig

    def summary(self) -> str:
        """The start-job response's permutation_summary, e.g. ``OpenAIChat[gpt-4o] - OpenAI[default]``."""
        ts = self.tool_selector
        return f"{self.llm.summary()} - {ts.provider}[{ts.pipeline_name}]"


def _check_matchers(value: dict[str, Any] | None) -> dict[str, Any] | None:
    problems = [p for name, item in (value or {}).items() for p in matcher_problems(item, name)]
    if problems:
        raise ValueError("; ".join(problems[:3]))
    return value


class ExpectedCall(_Strict):
    """One call of ``expected_calls``: the plugin, the operation URL (and method), the parameters."""

    plugin: str
    api: str
    method: str | None = None
    parameters: dict[str, Any] | None = None

    @field_validator("parameters")
    @classmethod
    def _matchers_well_formed(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return _check_matchers(value)


class TurnCall(ExpectedCall):
    """One expected call of a conversation turn: ``expected_calls``' form, with ``plugin`` optional
    (by default the plugin of the tool ``api`` names: a function or backend method name, or an operation URL)."""

    plugin: str | None = None  # type: ignore[assignment]


class Turn(_Strict):
    """One user turn of a conversation, with the calls expected of the model before it answers in text."""

    user: str
    expected_calls: list[TurnCall] | None = None  # matched by the case's trajectory_match
    expect_no_call: bool = False  # the model must answer this turn without calling a tool
    add_tools: list[str] | None = None  # tools (name or operationId) first offered at this turn (BFCL's miss_func)

    @field_validator("user")
    @classmethod
    def _said_something(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the user message is empty")
        return value

    @model_validator(mode="after")
    def _one_expectation(self) -> Turn:
        if self.expect_no_call and self.expected_calls:
            raise ValueError("expect_no_call: a turn expects either calls (expected_calls) or none, not both")
        return self


class TestCase(_Strict):
    """One prompt and what it is expected to call (or a conversation of turns), run under every permutation."""

    __test__ = False  # not a pytest test class

    name: Name
    type: Literal["plugin_selector", "api_signature_selector", "conversation"]
    prompt: str  # a conversation's is its first turn's user message (set when not given)
    expected_plugin_used: str | None = None  # required unless expected_calls / expect_no_call / expect_any_call
    expected_api_used: str | None = None
    expected_method: str | None = None
    expected_parameters: dict[str, Any] | None = None
    expected_response: str | None = None
    translations: dict[str, str] = Field(default_factory=dict)
    parameter_matching: ParameterMatching | None = None  # overrides config.parameter_matching for this case
    expected_calls: list[ExpectedCall] | None = Field(default=None, min_length=1)  # several calls, matched as a multiset
    call_order: Literal["any", "strict"] = "any"  # strict: the i-th call made is paired with the i-th expected
    expect_no_call: bool = False  # passes when the model calls nothing (BFCL's irrelevance)
    expect_any_call: bool = False  # passes when the model calls anything (BFCL's relevance)
    function_language: FunctionLanguage | None = None  # overrides config.function_language for this case
    # type conversation (docs/guides/conversations.md)
    turns: list[Turn] | None = None  # the user turns, in order
    tool_results: dict[str, Any] | None = None  # tool name or operationId -> its result, or a list used in call order
    backend: str | None = None  # package.module:Class whose methods are the tools (one fresh instance per run)
    initial_config: dict[str, Any] | None = None  # the backend's starting state (_load_scenario, else Class(**it))
    expected_state: dict[str, Any] | None = None  # the backend's public attributes expected after the conversation
    max_steps: int = Field(10, ge=1, le=1000)  # model calls per turn before the run fails with reason "max steps"
    trajectory_match: TrajectoryMatch = "unordered"  # how each turn's calls are compared with its expected_calls

    @model_validator(mode="before")
    @classmethod
    def _conversation_prompt(cls, data: Any) -> Any:
        """A conversation's ``prompt`` (what rows and tables show) is its first turn's user message."""
        if isinstance(data, dict) and data.get("type") == "conversation" and "prompt" not in data:
            turns = data.get("turns")
            first = turns[0] if isinstance(turns, list) and turns else None
            if isinstance(first, dict) and isinstance(first.get("user"), str):
                return {**data, "prompt": first["user"]}
            return {**data, "prompt": ""}  # the turns' own error is reported
        return data

    @field_validator("backend")
    @classmethod
    def _backend_path(cls, value: str | None) -> str | None:
        if value is not None and not _BACKEND_PATH.fullmatch(value.strip()):
            raise ValueError(f"{value!r} is not an import path: give package.module:Class")
        return value.strip() if value is not None else None

    @field_validator("expected_parameters")
    @classmethod
    def _matchers_well_formed(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return _check_matchers(value)

    @model_validator(mode="after")
    def _one_expectation(self) -> TestCase:
        if self.type == "conversation":
            return self._conversation_fields()
        given = [f for f in _CONVERSATION_FIELDS if getattr(self, f) is not None]
        if given:
            raise ValueError(f"{given[0]}: only a test case of type conversation has it")
        if self.expected_calls is not None and self.expected_parameters is not None:
            raise ValueError("expected_parameters: give each call's parameters inside expected_calls, not beside it")
        shapes = [name for name, given in (
            ("expected_calls", self.expected_calls is not None), ("expect_no_call", self.expect_no_call),
            ("expect_any_call", self.expect_any_call)) if given]
        if len(shapes) > 1:
            raise ValueError(f"{shapes[1]}: a test case expects one of expected_calls, expect_no_call, expect_any_call")
        if shapes:
            single = [f for f in ("expected_plugin_used", "expected_api_used", "expected_method", "expected_parameters")
                      if getattr(self, f) is not None]
            if single:
                raise ValueError(f"{single[0]}: not used with {shapes[0]} (put the call in expected_calls)")
            return self
        missing = [f for f in ("expected_plugin_used", "expected_api_used") if getattr(self, f) is None]
        if missing:
            raise ValueError(f"{missing[0]}: missing required field (or give expected_calls, expect_no_call "
                             "or expect_any_call)")
        return self

    def _conversation_fields(self) -> TestCase:
        if not self.turns:
            raise ValueError("turns: a conversation test case needs turns, a list of {user, expected_calls} or "
                             "{user, expect_no_call: true}")
        single = [f for f in ("expected_plugin_used", "expected_api_used", "expected_method", "expected_parameters",
                              "expected_calls") if getattr(self, f) is not None]
        single += [f for f in ("expect_no_call", "expect_any_call") if getattr(self, f)]
        if single:
            raise ValueError(f"{single[0]}: a conversation expects calls per turn (turns[i].expected_calls)")
        if self.expected_state is not None and self.backend is None:
            raise ValueError("expected_state: an end state needs a backend (backend: package.module:Class)")
        if self.initial_config is not None and self.backend is None:
            raise ValueError("initial_config: configures a backend; give backend: package.module:Class")
        return self

    @property
    def multi_call(self) -> bool:
        """Whether the case is scored over every call made (``core.calls``) rather than the first."""
        return self.expected_calls is not None or self.expect_no_call or self.expect_any_call


_CONVERSATION_FIELDS = ("turns", "tool_results", "backend", "initial_config", "expected_state")

OPENPLUGIN_KEY_ENV = "OPENPLUGIN_API_KEY"  # where a resumed job reads a key its request gave literally


class JobConfig(BaseModel):
    """Job settings: the docs' fields plus our documented extensions. Unknown keys warn."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    tool_selector_endpoint: str | None = None
    openplugin_api_key: str | None = None
    openplugin_api_key_env: str | None = None  # the name of the environment variable holding that key
    auto_translate_to_languages: list[str] = Field(default_factory=lambda: ["English"])
    concurrency: int = Field(8, ge=1, le=1024)
    max_retries: int = Field(3, ge=0, le=20)
    timeout_sec: float = Field(60.0, gt=0)
    max_response_bytes: int = Field(default_factory=lambda: default_max_response_bytes(), ge=256)  # larger fails its run
    cache: bool = True
    repeats: int = Field(1, ge=1, le=1000)
    url_map: dict[str, str] = Field(default_factory=dict)
    prices: dict[str, dict[str, float]] = Field(default_factory=dict)
    execute_operations: bool = False  # call the chosen operation over HTTP; its answer is final_output
    translator: LLMConfig | None = None  # the model that translates prompts (default: the first permutation's)
    parameter_matching: ParameterMatching = "lenient"  # how step c compares values (docs: verdict modes)
    executor: ExecutorSpec | None = None  # where the runs run: in-process asyncio (default) or Ray actors
    function_language: FunctionLanguage = "python"  # how bfcl mode reads argument values (Java/JavaScript literals)

    @field_validator("auto_translate_to_languages", mode="before")
    @classmethod
    def _default_languages(cls, value: Any) -> Any:
        return ["English"] if value in (None, []) else value


def default_max_response_bytes() -> int:
    """4 MB, or ``PERMUTATE_MAX_RESPONSE_BYTES`` (the bound for batches and evals, which have no config)."""
    return settings().max_response_bytes


class JobRequest(_Strict):
    """A permutate request, validated: the matrix of test cases x permutations x languages x repeats.

    ``load_request`` builds one from YAML, JSON or a dict in any of the docs' forms (flat, nested or
    plain) and names the field and line of any error. Every field is described in the docs' request
    reference (docs/reference/request.md), generated from this model's JSON schema.
    """

    version: str = "1.0.0"
    name: Name
    config: JobConfig = Field(default_factory=JobConfig)
    test_plugin: PluginRef | None = None
    plugin_groups: list[PluginGroup] = Field(min_length=1)
    permutations: list[Permutation] = Field(min_length=1)
    test_cases: list[TestCase] = Field(min_length=1)

    def matching_mode(self, case: TestCase) -> str:
        """The test case's ``parameter_matching``, else the job's."""
        return case.parameter_matching or self.config.parameter_matching

    def language(self, case: TestCase) -> str:
        """The test case's ``function_language``, else the job's."""
        return case.function_language or self.config.function_language

    def group(self, name: str) -> PluginGroup:
        """The plugin group named ``name`` (validation made sure it exists)."""
        return next(g for g in self.plugin_groups if g.name == name)

    def to_dict(self) -> dict[str, Any]:
        """The plain (unwrapped) form, without defaults the user did not set."""
        return self.model_dump(mode="json", exclude_defaults=True)

    def public_dict(self) -> dict[str, Any]:
        """``to_dict`` with secrets masked: what results and exports may carry."""
        data = self.to_dict()
        if data.get("config", {}).get("openplugin_api_key"):
            data["config"]["openplugin_api_key"] = "***"
        return data

    def stored_dict(self) -> dict[str, Any]:
        """``to_dict`` without secrets, for the job store: a key given in the request is stored as
        a reference to ``OPENPLUGIN_API_KEY``, which a resumed job reads again (or refuses to run without)."""
        data = self.to_dict()
        config = data.get("config", {})
        if config.pop("openplugin_api_key", None):
            config.setdefault("openplugin_api_key_env", OPENPLUGIN_KEY_ENV)
        return data

    def to_yaml(self) -> str:
        """The request as YAML (plain form, without defaults the user did not set)."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)


def load_request(source: str | Path | dict[str, Any] | JobRequest, *, base_dir: Path | None = None) -> JobRequest:
    """Load and validate a request from a file path, a YAML/JSON string or a dict.

    Relative manifest paths and ``expected_plugin_used`` resolve against the request
    file's folder (or ``base_dir``, default the working directory).
    """
    if isinstance(source, JobRequest):
        return source
    lines: LineIndex | None = None
    origin = "request"
    if isinstance(source, dict):
        data: Any = source
    else:
        text, origin, file_dir = _read_source(source)
        base_dir = base_dir or file_dir
        data, lines = _parse_text(text, origin)
    if not isinstance(data, dict):
        raise RequestError(f"{origin}: a request must be a mapping with name, plugin_groups, permutations and test_cases")
    data = normalise(data)
    _infer_case_types(data, origin)
    try:
        request = JobRequest.model_validate(data)
    except ValidationError as exc:
        raise RequestError(_format_validation(exc, origin, lines)) from None
    _check_consistency(request, origin, lines)
    _warn_unknown_config(request.config, origin)
    return _resolve_paths(request, (base_dir or Path.cwd()).resolve())


def _read_source(source: str | Path) -> tuple[str, str, Path | None]:
    if isinstance(source, Path) or ("\n" not in source and not source.lstrip().startswith(("{", "[")) and _looks_like_path(source)):
        path = Path(source).expanduser()
        return read_text(path, "request file"), str(path), path.resolve().parent
    return source, "request", None


def _looks_like_path(text: str) -> bool:
    return text.endswith((".yaml", ".yml", ".json")) or names_a_path(text)


def _parse_text(text: str, origin: str) -> tuple[Any, LineIndex | None]:
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            return load_json(text, origin), None
        except json.JSONDecodeError as exc:
            raise RequestError(f"{origin}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    return parse_yaml_with_lines(text, origin)


def normalise(data: dict[str, Any]) -> dict[str, Any]:
    """Unwrap the flat and nested list-item forms of the docs into the plain form."""
    out = dict(data)
    for list_key, wrapper in _WRAPPERS.items():
        if list_key == "plugins":
            continue
        items = out.get(list_key)
        if isinstance(items, list):
            out[list_key] = [_unwrap(item, wrapper) for item in items]
    groups = out.get("plugin_groups")
    if isinstance(groups, list):  # new group dicts: the caller's request stays as it was
        out["plugin_groups"] = [
            {**group, "plugins": [_unwrap(p, "plugin") for p in group["plugins"]]}
            if isinstance(group, dict) and isinstance(group.get("plugins"), list) else group
            for group in groups
        ]
    return out


def _infer_case_types(data: dict[str, Any], origin: str) -> None:
    """1.0.0 requests have no test case ``type``: api_signature_selector when the case gives
    expected_parameters, else plugin_selector. One warning says so."""
    cases = data.get("test_cases")
    if not isinstance(cases, list):
        return
    untyped = sum(isinstance(c, dict) and "type" not in c for c in cases)
    data["test_cases"] = [
        {**c, "type": "conversation" if "turns" in c else
         "api_signature_selector" if c.get("expected_parameters") else "plugin_selector"}
        if isinstance(c, dict) and "type" not in c else c
        for c in cases
    ]
    if untyped:
        warnings.warn(f"{origin}: {untyped} test case(s) without type (the 1.0.0 format): inferred from "
                      "expected_parameters (api_signature_selector) or their absence (plugin_selector)",
                      PermutateWarning, stacklevel=3)


def _unwrap(item: Any, wrapper: str) -> Any:
    if not isinstance(item, dict) or wrapper not in item:
        return item
    inner = item[wrapper]
    rest = {k: v for k, v in item.items() if k != wrapper}
    if inner is None:
        return rest
    if isinstance(inner, dict):
        return {**inner, **rest}
    return item  # leave it for validation to report


def _loc_text(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "request"


def _with_line(message: str, loc: tuple[Any, ...], origin: str, lines: LineIndex | None) -> str:
    line = lines.line_of(loc) if lines else None
    where = f"{origin}, line {line}" if line else origin
    return f"{where}: {_loc_text(loc)}: {message}"


def _format_validation(exc: ValidationError, origin: str, lines: LineIndex | None) -> str:
    messages = []
    for err in exc.errors()[:5]:
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith(("function-", "literal["))))
        kind = err["type"]
        if kind == "missing":
            text = "missing required field"
        elif kind == "extra_forbidden":
            text = "unknown field (check its spelling; see docs/reference/request.md)"
        elif kind == "literal_error" and loc and loc[-1] == "type":
            text = f"unknown test case type {err.get('input')!r}: use one of {', '.join(TEST_CASE_TYPES)}"
        else:
            text = err["msg"].removeprefix("Value error, ")
        messages.append(_with_line(text, loc, origin, lines))
    more = len(exc.errors()) - len(messages)
    if more > 0:
        messages.append(f"... and {more} more")
    return "\n".join(messages)


def _check_consistency(request: JobRequest, origin: str, lines: LineIndex | None) -> None:
    problems: list[str] = []
    for key in ("plugin_groups", "permutations", "test_cases"):
        seen: set[str] = set()
        for i, item in enumerate(getattr(request, key)):
            if item.name in seen:
                problems.append(_with_line(f"duplicate name {item.name!r}; names must be unique", (key, i, "name"), origin, lines))
            seen.add(item.name)
    sources: dict[str, tuple[int, int, PluginRef]] = {}
    for gi, group in enumerate(request.plugin_groups):
        for pi, ref in enumerate(group.plugins):
            if ref.manifest_url is not None:
                continue
            first = sources.setdefault(ref.location, (gi, pi, ref))
            if first[2].model_dump(exclude={"auth"}) != ref.model_dump(exclude={"auth"}):
                problems.append(_with_line(
                    f"plugin name {ref.location!r} names two different sources (also plugin_groups[{first[0]}]"
                    f".plugins[{first[1]}]); give each its own name", ("plugin_groups", gi, "plugins", pi, "name"),
                    origin, lines))
    known = [g.name for g in request.plugin_groups]
    for i, perm in enumerate(request.permutations):
        if perm.tool_selector.plugin_group_name not in known:
            problems.append(_with_line(
                f"unknown plugin group {perm.tool_selector.plugin_group_name!r}; known groups: {', '.join(known)}",
                ("permutations", i, "tool_selector", "plugin_group_name"), origin, lines))
    for i, case in enumerate(request.test_cases):
        if case.type == "api_signature_selector" and case.expected_parameters is None and not case.multi_call:
            problems.append(_with_line(
                "an api_signature_selector test case needs expected_parameters (or use type plugin_selector)",
                ("test_cases", i), origin, lines))
        if case.type == "conversation" and languages_of_config(request.config) != ["English"]:
            problems.append(_with_line(
                "a conversation runs its turns as written, in English only; run it in a job without "
                "config.auto_translate_to_languages (or with just English)", ("test_cases", i, "turns"), origin, lines))
    if problems:
        raise RequestError("\n".join(problems[:5]))


def languages_of_config(config: JobConfig) -> list[str]:
    """The job's languages, each once, in order."""
    return list(dict.fromkeys(config.auto_translate_to_languages))


def _warn_unknown_config(config: JobConfig, origin: str) -> None:
    for key in config.model_extra or {}:
        warnings.warn(f"{origin}: config.{key} is not a known setting and is ignored", PermutateWarning, stacklevel=3)


def _resolve_paths(request: JobRequest, base_dir: Path) -> JobRequest:
    resolved: dict[str, str] = {}  # thousands of test cases name the same few plugins: resolve each once

    def resolve(location: str) -> str:
        if location not in resolved:
            resolved[location] = resolve_location(location, base_dir)
        return resolved[location]

    def fix(ref: PluginRef) -> PluginRef:
        if ref.manifest_url is not None:
            return ref.model_copy(update={"manifest_url": resolve(ref.manifest_url)})
        if isinstance(ref.functions, str):
            return ref.model_copy(update={"functions": resolve(ref.functions)})
        if ref.mcp is not None and ref.mcp.cwd:
            return ref.model_copy(update={"mcp": ref.mcp.model_copy(update={"cwd": resolve(ref.mcp.cwd)})})
        return ref

    named = {ref.location for g in request.plugin_groups for ref in g.plugins if ref.manifest_url is None}

    def fix_turn_call(call: TurnCall) -> TurnCall:
        if call.plugin is None or call.plugin in named or resolve(call.plugin) == call.plugin:
            return call
        return call.model_copy(update={"plugin": resolve(call.plugin)})

    def fix_case(case: TestCase) -> TestCase:
        if case.turns:
            turns = [t.model_copy(update={"expected_calls": [fix_turn_call(c) for c in t.expected_calls]})
                     if t.expected_calls else t for t in case.turns]
            return case.model_copy(update={"turns": turns})
        if case.expected_calls:
            calls = [c if c.plugin in named or resolve(c.plugin) == c.plugin
                     else c.model_copy(update={"plugin": resolve(c.plugin)}) for c in case.expected_calls]
            return case.model_copy(update={"expected_calls": calls})
        if case.expected_plugin_used is None or case.expected_plugin_used in named:  # a named source (mcp, functions)
            return case
        location = resolve(case.expected_plugin_used)
        return case if location == case.expected_plugin_used else case.model_copy(update={"expected_plugin_used": location})

    update: dict[str, Any] = {
        "plugin_groups": [g.model_copy(update={"plugins": [fix(p) for p in g.plugins]}) for g in request.plugin_groups],
        "test_cases": [fix_case(c) for c in request.test_cases],
    }
    if request.test_plugin:
        update["test_plugin"] = fix(request.test_plugin)
    if request.config.url_map:
        mapped = {prefix: resolve_location(path, base_dir) for prefix, path in request.config.url_map.items()}
        update["config"] = request.config.model_copy(update={"url_map": mapped})
    return request.model_copy(update=update)
