"""Function schemas as plugins: ``{name, functions: tools.json | [...]}`` and ``pn.tools_from_functions``.

The file (or inline list) is an OpenAI ``tools`` array (``{type: function, function: {...}}``), a
list of bare functions (``{name, description, parameters}``), or a BFCL-style function list, whose
``dict``/``float``/``tuple``/``any`` types become JSON Schema's. Python callables get their schema
from their signature and docstring through pydantic, and are remembered (by tool name and schema)
so that ``config.execute_operations`` calls them.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import PluginLoadError

if TYPE_CHECKING:
    from .loader import Plugin

__all__ = ["FunctionTools", "tools_from_functions", "function_plugin", "parse_functions", "find_callable",
           "call_function"]

_BFCL_TYPES = {"dict": "object", "float": "number", "tuple": "array", "int": "integer", "bool": "boolean",
               "str": "string", "list": "array"}
#: Callables behind function tools, by (tool name, schema digest): what an executed run calls.
_CALLABLES: dict[tuple[str, str], Callable[..., Any]] = {}


def _digest(schema: Any) -> str:
    return hashlib.sha256(json.dumps(schema, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _bfcl(schema: Any) -> Any:
    """BFCL's Python-flavoured types (``dict``, ``float``, ``tuple``, ``any``) as JSON Schema types."""
    if isinstance(schema, list):
        return [_bfcl(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _bfcl(value) if key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf")
           else value for key, value in schema.items()}
    if isinstance(out.get("properties"), dict):  # a map of name -> schema, not a schema
        out["properties"] = {k: _bfcl(v) for k, v in schema["properties"].items()}
    kind = out.get("type")
    if kind == "any":
        out.pop("type")
    elif isinstance(kind, str) and kind in _BFCL_TYPES:
        out["type"] = _BFCL_TYPES[kind]
    return out


def parse_functions(data: Any, origin: str) -> list[dict[str, Any]]:
    """``{name, description, input_schema}`` per function of an OpenAI tools array, a function list or
    ``{tools: [...]}`` / ``{functions: [...]}``; anything else is one line naming ``origin``."""
    if isinstance(data, dict):
        data = data.get("tools", data.get("functions", [data] if "name" in data or "function" in data else None))
    if not isinstance(data, list):
        raise PluginLoadError(f"{origin}: expected a list of functions (an OpenAI tools array or a BFCL function list)")
    tools = []
    for i, entry in enumerate(data):
        function = entry.get("function") if isinstance(entry, dict) and isinstance(entry.get("function"), dict) else entry
        if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not function["name"].strip():
            raise PluginLoadError(f"{origin}: item {i} is not a function (it needs a name; "
                                  "expected {type: function, function: {name, description, parameters}})")
        parameters = function.get("parameters", {"type": "object", "properties": {}})
        tools.append({"name": function["name"].strip(), "description": str(function.get("description") or ""),
                      "input_schema": _bfcl(parameters)})
    return tools


def _read(location: str) -> Any:
    """The functions file through the project's bounded loaders (JSON, JSONL or YAML)."""
    from ...errors import RequestError
    from ..request.safe_load import load_json, load_yaml, read_text

    try:
        text = read_text(location, "functions file")
        suffix = Path(location).suffix.lower()
        if suffix == ".jsonl":
            return [load_json(line, location) for line in text.splitlines() if line.strip()]
        if suffix in (".yaml", ".yml"):
            return load_yaml(text, location)
        return load_json(text, location)
    except RequestError as exc:
        raise PluginLoadError(str(exc)) from None
    except ValueError as exc:
        raise PluginLoadError(f"{location}: not a JSON functions file: {exc}") from None


def _bfcl_rows(data: Any) -> Any:
    """A BFCL question file (JSONL rows with a ``function`` list): the union of its functions, each once."""
    if isinstance(data, list) and data and all(isinstance(r, dict) and isinstance(r.get("function"), list) for r in data):
        seen: dict[str, Any] = {}
        for row in data:
            for function in row["function"]:
                if isinstance(function, dict):
                    seen.setdefault(str(function.get("name")), function)
        return list(seen.values())
    return data


def function_plugin(name: str, functions: str | list[dict[str, Any]]) -> Plugin:
    """The plugin a functions file or inline list makes."""
    from .loader import Plugin
    from .mcp_source import tool_operations

    origin = functions if isinstance(functions, str) else f"plugin {name!r}: functions"
    data = _bfcl_rows(_read(functions)) if isinstance(functions, str) else functions
    tools = parse_functions(data, origin)
    return Plugin(id=name, name=name, description="", manifest={"functions": origin},
                  openapi_location=origin, operations=tool_operations(name, tools, "function", origin))


# --------------------------------------------------------------------------- Python callables


def _doc_parts(doc: str) -> tuple[str, dict[str, str]]:
    """The docstring's description (before any Args/Parameters section) and per-parameter text
    (Google ``name (type): text`` lines, or reST ``:param name: text``)."""
    lines = inspect.cleandoc(doc).splitlines() if doc else []
    params: dict[str, str] = {}
    description: list[str] = []
    section = None
    for line in lines:
        stripped = line.strip()
        rest = re.match(r":param\s+(?:\w+\s+)?(\w+):\s*(.*)", stripped)
        if rest:
            params[rest.group(1)] = rest.group(2).strip()
            section = "rest"
            continue
        if re.fullmatch(r"(Args|Arguments|Parameters|Params|Returns|Raises|Yields|Examples?):", stripped):
            section = stripped[:-1].lower()
            continue
        if section in ("args", "arguments", "parameters", "params"):
            found = re.match(r"(\w+)\s*(\([^)]*\))?\s*:\s*(.*)", stripped)
            if found:
                params[found.group(1)] = found.group(3).strip()
            elif stripped and params:
                last = list(params)[-1]
                params[last] = f"{params[last]} {stripped}".strip()
            continue
        if section is None:
            description.append(line)
    return "\n".join(description).strip(), params


def _strip_titles(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _strip_titles(v) for k, v in schema.items() if k != "title" or not isinstance(v, str)}
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]
    return schema


def function_schema(fn: Callable[..., Any]) -> dict[str, Any]:
    """An OpenAI tool for ``fn``: name, the docstring's description, parameters from the signature."""
    from pydantic import create_model
    from pydantic.fields import FieldInfo

    description, docs = _doc_parts(inspect.getdoc(fn) or "")
    fields: dict[str, Any] = {}
    hints = _hints(fn)
    for pname, param in inspect.signature(fn).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = hints.get(pname, Any)
        default = ... if param.default is param.empty else param.default
        fields[pname] = (annotation, FieldInfo(default=default, description=docs.get(pname)))
    model = create_model(f"{fn.__name__}_arguments", **fields)
    parameters = _strip_titles(model.model_json_schema())
    parameters.setdefault("properties", {})
    return {"type": "function", "function": {"name": fn.__name__, "description": description, "parameters": parameters}}


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    import typing

    try:
        return typing.get_type_hints(fn)
    except Exception:  # noqa: BLE001 - an unresolvable annotation: fall back to the raw ones
        return {k: v for k, v in getattr(fn, "__annotations__", {}).items() if not isinstance(v, str)}


class FunctionTools(list):
    """OpenAI tool dicts made from Python callables (a list: it goes into a request's ``functions``);
    ``callables`` maps each tool name to its function, which ``execute_operations`` calls."""

    callables: dict[str, Callable[..., Any]]


def tools_from_functions(functions: Iterable[Callable[..., Any]]) -> FunctionTools:
    """``[{type: function, function: {name, description, parameters}}, ...]`` for ``functions``.

    Use it as a plugin's ``functions``: ``{"name": "calc", "functions": pn.tools_from_functions([add])}``.
    With ``config.execute_operations: true`` a chosen tool calls its function (in this process).
    """
    tools = FunctionTools()
    tools.callables = {}
    for fn in functions:
        if not callable(fn):
            raise TypeError(f"tools_from_functions takes callables; got {type(fn).__name__}")
        tool = function_schema(fn)
        name = tool["function"]["name"]
        _CALLABLES[(name, _digest(tool["function"]["parameters"]))] = fn
        tools.callables[name] = fn
        tools.append(tool)
    return tools


def find_callable(name: str, parameters: Mapping[str, Any]) -> Callable[..., Any] | None:
    """The callable registered for a tool of this name and schema in this process, if any."""
    return _CALLABLES.get((name, _digest(parameters)))


async def call_function(fn: Callable[..., Any], arguments: Mapping[str, Any]) -> Any:
    """Call ``fn`` with the model's arguments validated (and coerced) by its signature; sync
    functions run in a worker thread so a slow one does not hold up the other runs."""
    from pydantic import validate_call

    checked = validate_call(fn)
    if inspect.iscoroutinefunction(fn):
        return await checked(**arguments)
    return await asyncio.to_thread(checked, **arguments)
