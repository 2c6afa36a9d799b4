"""BFCL's multi-turn verdict: run the model's calls and the ground truth on BFCL's own backends,
compare their state after each turn, then the ground truth's results against the model's.

Why our own and not BFCL's ``multi_turn_checker``: BFCL keeps every backend instance in its
module's ``globals()`` under ``{model}_{entry id}_{class}`` (a second check of the same entry
reuses the first one's mutated state, and nothing is ever freed), and it runs each call through
``eval`` of a string built from the model's tool name (a tool named ``__import__('os')...`` would
run). Here each check gets fresh instances of the backend classes (imported from the installed
``bfcl-eval``: their behaviour *is* the benchmark), and calls are interpreted, not evaluated:
the call string is built and instance-prefixed exactly as BFCL does (so its corners carry over:
a tool name appearing as ``name(`` inside a string argument is rewritten as BFCL rewrites it),
then parsed with ``ast``; only calls of backend methods with literal arguments are run.
Logic follows ``bfcl_eval/eval_checker/multi_turn_eval/multi_turn_checker.py`` and
``multi_turn_utils.py`` and the decoding in ``eval_runner._evaluate_single_multi_turn_entry``
(bfcl-eval 2026.3.23, Apache-2.0). One known difference: a call of a name that is no backend
method is ``name '...' is not defined`` here, where BFCL's ``eval`` would call a Python builtin of
that name (``print``, ``len``); neither changes a backend's state.

Inputs: ``turns`` holds, per turn, the model's steps (one per assistant message), each a text
answer (a string: no call) or a list of calls ``(name, arguments)`` (arguments a dict or the JSON
text the model sent) or BFCL call strings.
"""

from __future__ import annotations

import ast
import copy
import importlib
import inspect
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["BLOCKED", "Backends", "MultiTurnVerdict", "call_string", "check_multi_turn", "decode_step",
           "long_context_of", "result_text"]

#: Method names BFCL refuses to run (``execute_multi_turn_func_call``).
BLOCKED = ("kill", "exit", "quit", "remove", "unlink", "popen", "Popen", "run")
_NAME = re.compile(r"\b([a-zA-Z_]\w*)\s*(?=\()")
_INSTANCE_CHARS = re.compile(r"[-./:]")

Call = str | tuple[str, Any] | list[Any]


@dataclass(frozen=True, slots=True)
class MultiTurnVerdict:
    """BFCL's verdict: ``error_type`` is BFCL's (``multi_turn:instance_state_mismatch``, ...), ``turn``
    the turn that failed, ``reason`` one short line."""

    valid: bool
    error_type: str = ""
    reason: str = ""
    turn: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The verdict as the run's row stores it."""
        return {"valid": self.valid, "error_type": self.error_type, "reason": self.reason, "turn": self.turn}


def long_context_of(entry_id: str) -> bool:
    """BFCL's long-context flag: the category (the id without its number) names it."""
    category = entry_id.rsplit("_", 1)[0]
    return "long_context" in category or "composite" in category


def _classes() -> tuple[Mapping[str, str], Sequence[str]]:
    from bfcl_eval.constants.executable_backend_config import CLASS_FILE_PATH_MAPPING, STATELESS_CLASSES

    return CLASS_FILE_PATH_MAPPING, STATELESS_CLASSES


def result_text(result: Any) -> str:
    """A method's return value as BFCL hands it on: strings as they are, dicts as JSON, else ``str``."""
    if type(result) is str:
        return result
    if type(result) is dict:
        try:
            return json.dumps(result)
        except (TypeError, ValueError):
            return str(result)
    return str(result)


class Backends:
    """One side's (the model's or the ground truth's) fresh instances of an entry's backend classes.

    ``instance_name`` is the text BFCL prefixes each method call with (``{side}_{entry id}_{class}_instance``);
    it only shows where BFCL's rewriting reaches into string arguments."""

    def __init__(self, entry: Mapping[str, Any], side: str) -> None:
        self.entry_id = str(entry["id"])
        self.classes = [str(c) for c in entry["involved_classes"]]
        self.initial_config: Mapping[str, Any] = entry.get("initial_config") or {}
        self.long_context = long_context_of(self.entry_id)
        self.side = side
        self.instances: dict[str, Any] = {}
        self._by_prefix: dict[str, Any] = {}
        self._method_prefix: dict[str, str] = {}

    def _create(self) -> None:
        if self.instances:
            return
        paths, stateless = _classes()
        for name in self.classes:
            if name not in paths:
                raise ValueError(f"{self.entry_id}: unknown BFCL backend class {name!r}")
            instance = getattr(importlib.import_module(paths[name]), name)()
            if name not in stateless:
                instance._load_scenario(copy.deepcopy(self.initial_config.get(name, {})), long_context=self.long_context)
            prefix = _INSTANCE_CHARS.sub("_", f"{self.side}_{self.entry_id}_{name}_instance")
            self.instances[name] = instance
            self._by_prefix[prefix] = instance
            for method, _ in inspect.getmembers(instance, predicate=inspect.ismethod):
                if not method.startswith("_"):
                    self._method_prefix[method] = prefix  # a later class wins a shared name, as in BFCL

    def execute(self, calls: Sequence[str]) -> list[str]:
        """Run BFCL call strings in order; each gives its result text or ``Error during execution: ...``."""
        self._create()
        return [self._one(call) for call in calls]

    def _one(self, call: str) -> str:
        text = _NAME.sub(lambda m: f"{self._method_prefix[m.group(1)]}.{m.group(1)}"
                         if m.group(1) in self._method_prefix else m.group(1), call)
        try:
            head = text.split("(")[0] if "(" in text else text
            if "." in head:
                head = head.split(".")[1]
            if head in BLOCKED:
                raise Exception(f"Function call {head} is not allowed.")  # noqa: TRY002 - BFCL's own message
            return result_text(self._evaluate(ast.parse(text, filename="<string>", mode="eval").body))
        except Exception as exc:  # noqa: BLE001 - every failure is the tool result the model sees, as in BFCL
            return f"Error during execution: {exc}"

    def _evaluate(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Call):
            function = self._callable(node.func)
            args = [self._evaluate(a) for a in node.args]
            kwargs = {k.arg: self._evaluate(k.value) for k in node.keywords if k.arg is not None}
            if any(k.arg is None for k in node.keywords):
                raise ValueError("keyword unpacking is not supported")
            return function(*args, **kwargs)
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)) and any(isinstance(n, ast.Call) for n in ast.walk(node)):
            values = [self._evaluate(e) for e in node.elts]
            return values if isinstance(node, ast.List) else (tuple(values) if isinstance(node, ast.Tuple) else set(values))
        if isinstance(node, ast.Dict) and any(isinstance(n, ast.Call) for n in ast.walk(node)):
            return {self._evaluate(k) if k is not None else None: self._evaluate(v) for k, v in zip(node.keys, node.values)}
        return ast.literal_eval(node)

    def _callable(self, func: ast.expr) -> Any:
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in self._by_prefix:
            return getattr(self._by_prefix[func.value.id], func.attr)
        if isinstance(func, ast.Name):
            raise NameError(f"name '{func.id}' is not defined")
        raise ValueError(f"not a backend method: {ast.unparse(func)}")


def call_string(name: str, arguments: Mapping[str, Any]) -> str:
    """BFCL's call string for a decoded tool call (``convert_to_function_call``)."""
    return f"{name}({','.join(f'{k}={v!r}' for k, v in arguments.items())})"


def decode_step(step: Sequence[Call]) -> list[str] | None:
    """One assistant message's calls as BFCL call strings; None when BFCL's decoding fails (arguments
    not a JSON object), which drops the whole step as BFCL's runner does."""
    out: list[str] = []
    for call in step:
        if isinstance(call, str):
            out.append(call)
            continue
        name, arguments = call[0], call[1]
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except ValueError:
                return None
        if not isinstance(arguments, Mapping):
            return None
        out.append(call_string(str(name), arguments))
    return out


def _decoded(turns: Sequence[Sequence[Sequence[Call] | str]]) -> list[list[list[str]]]:
    """BFCL's runner keeps, per turn, the steps that decode to at least one call."""
    out = []
    for turn in turns:
        steps = []
        for step in turn:
            if isinstance(step, str):
                continue  # a text answer
            decoded = decode_step(step)
            if decoded:  # an empty step (a text answer) is no call
                steps.append(decoded)
        out.append(steps)
    return out


def _unordered_missing(expected: list[str], made: list[str]) -> list[str]:
    left = list(made)
    missing = []
    for item in expected:
        try:
            left.remove(item)
        except ValueError:
            missing.append(item)
    return missing


def _differences(model: Any, truth: Any) -> list[str]:
    return [name for name in vars(truth) if not name.startswith("_") and getattr(model, name) != getattr(truth, name)]


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_multi_turn(entry: Mapping[str, Any], turns: Sequence[Sequence[Sequence[Call] | str]],
                     ground_truth: Sequence[Sequence[str]], *, model_name: str = "permutate") -> MultiTurnVerdict:
    """BFCL's verdict on the model's ``turns`` for a multi-turn ``entry`` (id, involved_classes,
    initial_config) against its ``ground_truth`` (per turn, BFCL call strings). ``model_name`` only
    decides the text BFCL's rewriting puts into string arguments (see ``Backends``)."""
    if len(turns) != len(ground_truth):
        return MultiTurnVerdict(False, "multi_turn:force_terminated",
                                f"the conversation ended after {len(turns)} of {len(ground_truth)} turns")
    decoded = _decoded(turns)
    model = Backends(entry, f"{model_name}_eval")
    truth = Backends(entry, f"{model_name}_ground_truth_eval")
    made_so_far: list[str] = []
    for index, expected in enumerate(ground_truth):
        for step in decoded[index]:
            made_so_far += model.execute(step)
        truth_results = truth.execute(list(expected))
        if not expected:
            continue  # a turn BFCL expects to fail (missing function or parameter): not checked
        if not decoded[index]:
            return MultiTurnVerdict(False, "multi_turn:empty_turn_model_response", f"turn {index}: no call made", index)
        for name, instance in truth.instances.items():
            differences = _differences(model.instances[name], instance)
            if differences:
                return MultiTurnVerdict(False, "multi_turn:instance_state_mismatch",
                                        f"turn {index}: {name} state differs in {', '.join(differences)}", index)
        missing = _unordered_missing(truth_results, made_so_far)
        if missing:
            return MultiTurnVerdict(False, "multi_turn:execution_response_mismatch",
                                    f"turn {index}: expected result not produced: {_short(missing[0])}", index)
    return MultiTurnVerdict(True)
