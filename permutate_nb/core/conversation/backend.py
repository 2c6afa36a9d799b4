"""Stateful Python backends of conversation test cases: load, configure, dispatch, snapshot, score.

A test case names a class (``backend: package.module:Class``); every run gets a fresh instance,
configured from ``initial_config`` the way BFCL's multi-turn backends are
(``instance._load_scenario(config)``), else as ``Class(**initial_config)``. Its public methods are
the tools: when the plugin group describes some of them (function schemas of the same names), the
group's schemas are what the model is offered; otherwise every public method, with a schema made
from its signature. Calls go to the method of the tool's name. After the conversation the instance's public
attributes are its state, compared with ``expected_state`` by an ``EndStateScorer``: by default
``compare_state``; a BFCL job passes BFCL's own checker instead.
"""

from __future__ import annotations

import asyncio
import copy
import importlib
import inspect
import json
from collections.abc import Callable, Mapping
from typing import Any

from ...errors import RequestError
from ..plugins.openapi import Operation
from ..plugins.tools import ToolSet, toolset_of
from ..scoring.matching import compare_parameters, describe_mismatches

__all__ = ["BACKEND_KIND", "EndStateScorer", "backend_operations", "backend_state", "backend_toolset", "call_backend",
           "compare_state", "load_backend", "new_backend", "public_methods", "result_text"]

BACKEND_KIND = "backend"  # ``Operation.kind`` of a backend method offered with a generated schema

#: ``(instance, expected_state, case, transcript) -> mismatches`` (empty: the end state is right). The
#: transcript (the row's messages) serves checkers that replay the calls, as BFCL's does per turn.
EndStateScorer = Callable[[Any, Mapping[str, Any], Any, list[dict[str, Any]]], list[str]]


def load_backend(path: str) -> type:
    """The class ``package.module:Class`` names; a path that does not import is one line naming it."""
    module_name, _, attribute = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - any failure to import is the user's path, said in one line
        raise RequestError(f"backend {path}: cannot import {module_name}: {type(exc).__name__}: {exc}") from None
    target: Any = module
    for part in attribute.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise RequestError(f"backend {path}: {module_name} has no {attribute}")
    if not inspect.isclass(target):
        raise RequestError(f"backend {path}: {attribute} is a {type(target).__name__}, not a class")
    return target


def new_backend(cls: type, initial_config: Mapping[str, Any] | None) -> Any:
    """A fresh instance: ``Class()`` then ``_load_scenario(initial_config)`` when the class has it
    (BFCL's convention), else ``Class(**initial_config)``. The config is copied: runs share nothing.
    A class that refuses its config fails the run with one line naming it."""
    config = copy.deepcopy(dict(initial_config)) if initial_config is not None else None
    try:
        if config is None:
            return cls()
        if callable(getattr(cls, "_load_scenario", None)):
            instance = cls()
            instance._load_scenario(config)
            return instance
        return cls(**config)
    except Exception as exc:  # noqa: BLE001 - the user's class and config: said in one line, the run fails
        raise RequestError(f"backend {cls.__module__}:{cls.__qualname__}: cannot start it with initial_config: "
                           f"{type(exc).__name__}: {exc}") from None


def public_methods(cls: type) -> dict[str, Callable[..., Any]]:
    """The class's public methods by name (not ``_private``, not attributes or properties)."""
    methods: dict[str, Callable[..., Any]] = {}
    for name, value in inspect.getmembers(cls):
        if name.startswith("_") or isinstance(inspect.getattr_static(cls, name), property):
            continue
        if inspect.isfunction(value) or inspect.ismethod(value):
            methods[name] = value
    return methods


def backend_operations(path: str, cls: type, described: set[str]) -> list[Operation]:
    """An operation per public method not in ``described`` (tool names the group already has a schema for)."""
    from ..plugins.function_source import function_schema

    operations = []
    for name, method in public_methods(cls).items():
        if name in described:
            continue
        schema = function_schema(method)["function"]
        parameters = dict(schema["parameters"])
        parameters["properties"] = {k: v for k, v in parameters.get("properties", {}).items() if k != "self"}
        if "required" in parameters:
            parameters["required"] = [r for r in parameters["required"] if r != "self"]
        operations.append(Operation(
            plugin_id=path, plugin_name=cls.__name__, method="", url=name, path=name, operation_id=name,
            summary=schema["description"], description="", parameters=parameters, locations={}, kind=BACKEND_KIND))
    return operations


def backend_toolset(path: str, cls: type, group: ToolSet) -> ToolSet:
    """The tools a conversation over a backend offers. When the plugin group describes some of the
    backend's methods (function schemas of the same names), the group's tools are the offer, as written:
    a curated list, which may leave methods out on purpose (BFCL's missing-function category). Otherwise
    the group's tools plus every public method, each with a schema made from its signature."""
    names = {op.url for op in group.by_name.values() if op.kind != "openapi"} | set(group.by_name)
    if names & set(public_methods(cls)):
        return group
    return toolset_of([*group.by_name.values(), *backend_operations(path, cls, names)], group.plugins)


def result_text(value: Any) -> str:
    """A tool result as the model reads it: text as is, anything else as JSON."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


async def call_backend(instance: Any, name: str, arguments: Mapping[str, Any] | None) -> tuple[str, bool]:
    """Call method ``name`` with the model's arguments in a worker thread; ``(result text, ok)``.
    A method that raises gives its error as the result (``ok`` False): the model reads it and goes on."""
    method = getattr(instance, name, None)
    if name.startswith("_") or not callable(method):
        return f"Error: the backend has no tool {name!r}", False
    if arguments is None:
        return f"Error: the arguments of {name} are not a JSON object", False
    try:
        value = await asyncio.to_thread(method, **arguments)
    except Exception as exc:  # noqa: BLE001 - the model sees the error, as it would from a real tool
        return f"Error: {type(exc).__name__}: {exc}", False
    return result_text(value), True


def backend_state(instance: Any) -> dict[str, Any]:
    """The instance's public attributes (what BFCL's checker compares), as plain JSON values."""
    state = {k: v for k, v in vars(instance).items() if not k.startswith("_")}
    return json.loads(json.dumps(state, default=_plain))


def _plain(value: Any) -> Any:
    if hasattr(value, "__dict__"):
        return {k: v for k, v in vars(value).items() if not k.startswith("_")}
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def compare_state(instance: Any, expected: Mapping[str, Any], case: Any = None,
                  transcript: list[dict[str, Any]] | None = None) -> list[str]:
    """The default end-state check: each attribute ``expected_state`` names must equal the instance's
    (strict types; matchers such as ``$any`` and ``$approx`` allowed). Returns the differences in words."""
    state = backend_state(instance)
    verdict = compare_parameters(expected, {k: v for k, v in state.items() if k in expected}, mode="strict")
    return [describe_mismatches([m.to_dict()]) for m in verdict.mismatches]
