"""BFCL multi-turn agreement tooling: candidate trajectories and BFCL's own verdicts on them.

Why: ``core.scoring.bfcl_multi_turn`` promises the verdicts of BFCL's ``multi_turn_checker``.
tests/core/test_bfcl_multi_turn_conformance.py and ``benchmarks/bfcl_agreement.py multi-turn``
hold it to that: ``trajectories`` makes candidate trajectories of every kind from a real entry's
ground truth, and ``bfcl_multi_turn_verdict`` asks BFCL. BFCL's side runs BFCL's own code: its
``multi_turn_checker`` imported, and the runner's decoding (``eval_runner.
_evaluate_single_multi_turn_entry``, ``model_handler.utils.convert_to_function_call``) taken from
the installed files' source, since importing those modules imports every model SDK.

A trajectory is, per turn, a list of steps (one per assistant message): a step is a text answer
(a string) or a list of calls ``[name, arguments]`` (arguments a dict, or a string sent verbatim).
"""

from __future__ import annotations

import ast
import copy
import importlib
import importlib.util
import inspect
import itertools
import json
import re
import types
from pathlib import Path
from typing import Any

from ..core.scoring.bfcl_multi_turn import Backends
from .bfcl import _wrong

__all__ = ["bfcl_multi_turn_verdict", "calls_of", "load_multi_turn_checker", "parse_call", "scripted_rules",
           "trajectories"]

_SERIAL = itertools.count()


# --------------------------------------------------------------------------- BFCL's side

def _function_source(path: Path, name: str) -> str:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    return ast.get_source_segment(path.read_text(encoding="utf-8"), node) or ""


def load_multi_turn_checker() -> dict[str, Any] | None:
    """BFCL's multi-turn evaluation of one entry (``_evaluate_single_multi_turn_entry`` with its
    ``multi_turn_checker``, and the decoding of function-calling answers), None without bfcl-eval."""
    spec = importlib.util.find_spec("bfcl_eval")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    checker = importlib.import_module("bfcl_eval.eval_checker.multi_turn_eval.multi_turn_checker")
    utils = importlib.import_module("bfcl_eval.eval_checker.multi_turn_eval.multi_turn_utils")
    namespace: dict[str, Any] = {"json": json, "BaseHandler": object, "multi_turn_checker": checker.multi_turn_checker,
                                 "is_empty_execute_response": utils.is_empty_execute_response}
    exec(_function_source(root / "model_handler" / "utils.py", "convert_to_function_call"), namespace)  # noqa: S102
    exec(_function_source(root / "eval_checker" / "eval_runner.py", "_evaluate_single_multi_turn_entry"), namespace)  # noqa: S102
    namespace["utils_module"] = utils
    return namespace


def _model_result(trajectory: list[list[Any]]) -> list[list[Any]]:
    """The trajectory as BFCL's function-calling handlers record it: per step, the text, or
    ``[{name: arguments JSON}]``."""
    return [[step if isinstance(step, str) else
             [{name: args if isinstance(args, str) else json.dumps(args)} for name, args in step]
             for step in turn] for turn in trajectory]


def bfcl_multi_turn_verdict(bfcl: dict[str, Any], entry: dict[str, Any], trajectory: list[list[Any]],
                            model_name: str | None = None) -> tuple[bool, str]:
    """BFCL's verdict on one trajectory: (valid, error_type). Each call uses a model name of its own
    (BFCL keeps backend instances in a module global per model and entry) and frees them after."""
    name = model_name or f"cand{next(_SERIAL)}"
    handler = types.SimpleNamespace(decode_execute=lambda result, has_tool_call_tag: bfcl["convert_to_function_call"](result))
    prompt = {"id": entry["id"], "initial_config": copy.deepcopy(entry["initial_config"]),
              "involved_classes": entry["involved_classes"]}
    category = entry["id"].rsplit("_", 1)[0]
    try:
        result = bfcl["_evaluate_single_multi_turn_entry"](handler, entry["id"], _model_result(trajectory),
                                                           entry["ground_truth"], prompt, name, category)
    except Exception as exc:  # noqa: BLE001 - BFCL's runner would crash; counted as a failure
        return False, f"checker_exception:{type(exc).__name__}"
    finally:
        held = vars(bfcl["utils_module"])
        for key in [k for k in held if k.startswith(f"{name}_")]:
            del held[key]
    return bool(result["valid"]), "" if result["valid"] else str(result["error"].get("error_type", ""))


# --------------------------------------------------------------------------- candidates

def parse_call(call: str, entry: dict[str, Any]) -> list[Any]:
    """A ground-truth call string as ``[name, arguments]``, positional arguments named after the
    backend method's parameters."""
    node = ast.parse(call, mode="eval").body
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name), call
    arguments = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
    if node.args:
        backends = Backends(entry, "signature")
        backends.execute([])
        method = next(getattr(i, node.func.id) for i in reversed(list(backends.instances.values()))
                      if hasattr(i, node.func.id))
        names = list(inspect.signature(method).parameters)
        arguments = {**{names[i]: ast.literal_eval(a) for i, a in enumerate(node.args)}, **arguments}
    return [node.func.id, arguments]


def _state(backends: Backends) -> list[Any]:
    return [{k: copy.deepcopy(v) for k, v in vars(i).items() if not k.startswith("_")} for i in backends.instances.values()]


def _harmless_call(entry: dict[str, Any]) -> list[Any] | None:
    """A method without required parameters that leaves every backend's state as it was."""
    for doc in entry["functions"]:
        if doc.get("parameters", {}).get("required"):
            continue
        backends = Backends(entry, "probe")
        backends.execute([])
        before = _state(backends)
        result = backends.execute([f"{doc['name']}()"])[0]
        if not result.startswith("Error") and _state(backends) == before:
            return [doc["name"], {}]
    return None


def _state_changing_call(entry: dict[str, Any], gt: list[list[list[Any]]]) -> list[Any] | None:
    """One of the entry's calls, an argument made wrong, that changes a backend's state after the
    ground truth has run (so the end state differs); None when none does."""
    from ..core.scoring.bfcl_multi_turn import call_string

    for name, arguments in (c for turn in reversed(gt) for c in reversed(turn) if c[1]):
        for key in arguments:
            backends = Backends(entry, "probe")
            for turn in entry["ground_truth"]:
                backends.execute(turn)
            before = _state(backends)
            call = [name, {**arguments, key: _wrong(arguments[key])}]
            result = backends.execute([call_string(call[0], call[1])])[0]
            if not result.startswith("Error") and _state(backends) != before:
                return call
    return None


def trajectories(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """Candidate trajectories for one multi-turn entry: right (one step per turn, or one call per
    step), wrong call, wrong argument, missing step, extra harmless step, wrong end state, reordered,
    an empty turn, a malformed step, a call in a turn BFCL expects to fail, cut short, a method call's
    text inside a string argument."""
    gt = [[parse_call(c, entry) for c in turn] for turn in entry["ground_truth"]]
    filled = [i for i, turn in enumerate(gt) if turn]
    done = "Done."

    def right() -> list[list[Any]]:
        return [[copy.deepcopy(turn), done] if turn else ["I cannot do that with the functions I have."] for turn in gt]

    out: list[dict[str, Any]] = [{"kind": "right", "turns": right()},
                                 {"kind": "right_stepwise", "turns": [[[c] for c in turn] + [done] for turn in gt]}]
    first, last = filled[0], filled[-1]
    names = [f["name"] for f in entry["functions"]]
    # a wrong call: the first turn's last call replaced by another function with the same arguments
    turns = right()
    name, args = turns[first][0][-1]
    other = next((n for n in names if n != name), name)
    turns[first][0][-1] = [other, args]
    out.append({"kind": "wrong_call", "turns": turns})
    # a wrong argument, in the first and in the last turn
    for index in dict.fromkeys((first, last)):
        turns = right()
        call = next((c for c in reversed(turns[index][0]) if c[1]), None)
        if call is not None:
            key = next(iter(call[1]))
            call[1][key] = _wrong(call[1][key])
            out.append({"kind": "wrong_argument", "turns": turns})
    # a missing step: the first turn's first call, the last turn's last call
    for index, position in dict.fromkeys(((first, 0), (last, -1))):
        turns = right()
        del turns[index][0][position]
        if not turns[index][0]:
            turns[index] = [done]
        out.append({"kind": "missing_step", "turns": turns})
    harmless = _harmless_call(entry)
    if harmless is not None:
        for index in dict.fromkeys((first, last)):
            turns = right()
            turns[index].insert(1, [harmless])
            out.append({"kind": "extra_harmless_step", "turns": turns})
    changed = _state_changing_call(entry, gt)
    if changed is not None:  # a wrong end state: the last turn ends with a call that changes a backend's state
        turns = right()
        turns[last].insert(1, [changed])
        out.append({"kind": "wrong_end_state", "turns": turns})
    longest = max(filled, key=lambda i: len(gt[i]))
    if len(gt[longest]) > 1:
        turns = right()
        turns[longest][0].reverse()
        out.append({"kind": "reordered", "turns": turns})
    turns = right()
    turns[last] = ["I would rather not."]
    out.append({"kind": "empty_turn", "turns": turns})
    turns = right()  # a step whose arguments are not JSON is dropped whole by BFCL's decoding
    turns[first].insert(0, [[turns[first][0][0][0], "{not json"]])
    out.append({"kind": "malformed_step", "turns": turns})
    turns = right()
    turns[first][0][0] = [turns[first][0][0][0], "{not json"]
    out.append({"kind": "malformed_step", "turns": turns})
    out.append({"kind": "cut_short", "turns": right()[:-1]})
    turns = right()  # BFCL rewrites ``name(`` inside a string argument as a method call: so must we
    call = next((c for turn in turns for step in turn if not isinstance(step, str) for c in step
                 if any(isinstance(v, str) for v in c[1].values())), None)
    if call is not None:
        key = next(k for k, v in call[1].items() if isinstance(v, str))
        call[1][key] = f"{names[0]}('{call[1][key]}')"
        out.append({"kind": "call_text_in_argument", "turns": turns})
    for index in [i for i, turn in enumerate(gt) if not turn and i + 1 < len(gt) and gt[i + 1]][:1]:
        turns = right()  # the next turn's calls made already in the turn BFCL expects to fail
        turns[index] = [copy.deepcopy(gt[index + 1]), done]
        out.append({"kind": "call_in_failing_turn", "turns": turns})
        turns = copy.deepcopy(turns)
        turns[index + 1] = [done]
        out.append({"kind": "call_in_failing_turn", "turns": turns})
    return out


# --------------------------------------------------------------------------- through the pipeline

def calls_of(trajectory: list[list[Any]]) -> list[list[list[list[Any]]]]:
    """Per turn, per step, the calls ``[name, arguments]`` (text steps left out): to compare the
    trajectory a row's transcript records (``bfcl_conversation.turns_of``) with the one played."""
    return [[[list(c) for c in step] for step in turn if not isinstance(step, str)] for turn in trajectory]


def scripted_rules(entry: dict[str, Any], trajectory: list[list[Any]]) -> list[dict[str, Any]]:
    """Scripted-server rules answering ``entry``'s conversation with ``trajectory``: per turn (matched
    on its whole user message), its steps in order, then text. Turns whose user messages repeat (a
    miss_func turn) are not told apart: use entries without them."""
    from ..core.jobs.bfcl_conversation import conversation_case

    rules = []
    for turn, steps in zip(conversation_case(entry)["turns"], trajectory):
        responses: list[dict[str, Any]] = [
            {"text": step} if isinstance(step, str) else
            {"tool_calls": [{"name": name, "arguments": args} for name, args in step]} for step in steps]
        if not responses or "text" not in responses[-1]:
            responses.append({"text": "Done."})
        rules.append({"match": f"re:^{re.escape(turn['user'])}$", "responses": responses})  # the whole message
    return rules
