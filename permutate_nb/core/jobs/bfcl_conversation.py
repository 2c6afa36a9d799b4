"""BFCL's multi-turn categories: entries read from the installed ``bfcl-eval``, made conversation
test cases, scored by BFCL's checker through the conversation engine's end-state hook.

Why apart from ``bfcl_suite``: a multi-turn entry is a conversation over stateful backends, not one
prompt; its functions are the docs of its ``involved_classes`` (BFCL's ``multi_turn_func_doc``),
minus, in miss_func, the ones held out until the turn BFCL adds them back
(``utils.populate_test_cases_with_predefined_functions``). ``excluded_function`` is not used by BFCL.

As a test case (``conversation_case``): one turn per question turn (its user message; a miss_func
turn without one says what BFCL says, and ``add_tools`` offers the held-out functions from then on),
``backend`` the class combining the entry's classes (``bfcl_backends``), ``initial_config`` the
entry's id and configuration, ``expected_state`` the ground truth (per turn, BFCL call strings),
``max_steps`` 21 (BFCL ends a turn after 20 executed steps and fails the entry on the next one).
No turn has expected calls: the verdict is BFCL's (``bfcl_end_state``), state after each turn, then
the results of the ground truth's calls among the model's. A miss_param turn is a turn whose ground
truth is empty: BFCL does not check it (the model should ask), as here.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ...errors import ConfigurationError
from ..scoring.bfcl_multi_turn import check_multi_turn
from .bfcl_backends import backend_path
from .bfcl_suite import BFCL_EVAL_VERSION, MULTI_TURN_CATEGORIES, bfcl_data_dir

__all__ = ["ADDED_FUNCTIONS_PROMPT", "MAX_STEPS", "MULTI_TURN_CATEGORIES", "bfcl_end_state", "check_backends",
           "conversation_case",
           "read_multi_turn_entries", "turns_of"]

MAX_STEPS = 21  # BFCL's MAXIMUM_STEP_LIMIT (20) executed steps per turn, the 21st ends the entry
#: The user message BFCL sends at a miss_func turn, when it adds the held-out functions back
#: (``DEFAULT_USER_PROMPT_FOR_ADDITIONAL_FUNCTION_FC``).
ADDED_FUNCTIONS_PROMPT = "I have updated some more functions you can choose from. What about now?"


def _lines(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def _docs(data: Path, classes: list[str], cache: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    from bfcl_eval.constants.executable_backend_config import MULTI_TURN_FUNC_DOC_FILE_MAPPING

    docs: list[dict[str, Any]] = []
    for name in classes:
        if name not in cache:
            cache[name] = _lines(data / "multi_turn_func_doc" / MULTI_TURN_FUNC_DOC_FILE_MAPPING[name])
        docs += json.loads(json.dumps(cache[name]))
    return docs


def read_multi_turn_entries(category: str, *, data: Path | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """One multi-turn category's entries: id, category, question (per turn, its messages),
    initial_config, involved_classes, functions (offered from the start), held_out (turn index ->
    function docs added at that turn), ground_truth (per turn, BFCL call strings)."""
    data = data or bfcl_data_dir()
    path = data / f"BFCL_v4_{category}.json"
    if category not in MULTI_TURN_CATEGORIES or not path.is_file():
        raise ConfigurationError(f"{path}: not found in the installed bfcl-eval (version {BFCL_EVAL_VERSION} expected)")
    questions = _lines(path)[:limit] if limit is not None else _lines(path)
    answers = {a["id"]: a["ground_truth"] for a in _lines(data / "possible_answer" / path.name)}
    cache: dict[str, list[dict[str, Any]]] = {}
    entries = []
    for q in questions:
        functions = _docs(data, list(q["involved_classes"]), cache)
        held_out: dict[int, list[dict[str, Any]]] = {}
        for turn, names in (q.get("missed_function") or {}).items():
            held_out[int(turn)] = [f for f in functions if f["name"] in names]
            functions = [f for f in functions if f["name"] not in names]
        entries.append({"id": q["id"], "category": category, "question": q["question"],
                        "initial_config": q.get("initial_config") or {}, "involved_classes": q["involved_classes"],
                        "functions": functions, "held_out": held_out, "ground_truth": answers[q["id"]]})
    return entries


def _user_text(messages: list[dict[str, Any]]) -> str:
    if len(messages) == 1:
        return str(messages[0].get("content", ""))
    return "\n\n".join(f"{m.get('role', 'user')}: {m.get('content', '')}" for m in messages)


def conversation_case(entry: Mapping[str, Any], plugin: str | None = None) -> dict[str, Any]:
    """One multi-turn entry as a ``type: conversation`` test case (see the module's docstring);
    ``plugin`` (the OpenAPI document of the job's functions) is not needed: no turn expects calls."""
    turns = []
    for index, messages in enumerate(entry["question"]):
        turn: dict[str, Any] = {"user": _user_text(messages) if messages else ADDED_FUNCTIONS_PROMPT}
        if index in entry["held_out"]:
            turn["add_tools"] = [f["name"] for f in entry["held_out"][index]]
        turns.append(turn)
    return {"name": entry["id"], "type": "conversation", "turns": turns,
            "backend": backend_path(list(entry["involved_classes"])),
            "initial_config": {"entry_id": entry["id"], "initial_config": entry["initial_config"]},
            "expected_state": {"ground_truth": entry["ground_truth"]}, "max_steps": MAX_STEPS}


def turns_of(transcript: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """A conversation's transcript as BFCL's checker reads it: per user turn, per assistant
    message, its calls ``(name, arguments)`` or its text."""
    turns: list[list[Any]] = []
    for message in transcript:
        role = message.get("role")
        if role == "user":
            turns.append([])
        elif role == "assistant" and turns:
            calls = message.get("tool_calls")
            turns[-1].append([(c.get("name", ""), c.get("arguments")) for c in calls] if calls
                             else str(message.get("content") or ""))
    return turns


def bfcl_end_state(instance: Any, expected_state: Mapping[str, Any], case: Any,
                   transcript: list[dict[str, Any]]) -> list[str]:
    """The engine's end-state hook for a BFCL conversation: BFCL's verdict on the transcript's calls
    (replayed on fresh backends, state compared after each turn); empty when valid, else BFCL's
    error type and the reason."""
    config = case.initial_config or {}
    entry = {"id": config["entry_id"], "involved_classes": list(type(instance).classes),
             "initial_config": config.get("initial_config") or {}}
    verdict = check_multi_turn(entry, turns_of(transcript), expected_state["ground_truth"])
    return [] if verdict.valid else [f"{verdict.error_type}: {verdict.reason}"]


def check_backends(entries: Sequence[Mapping[str, Any]]) -> None:
    """Every backend class the entries involve imports (BFCL's MathAPI needs ``mpmath``, which a
    ``--no-deps`` install of bfcl-eval lacks): else one line naming the class and what is missing."""
    from bfcl_eval.constants.executable_backend_config import CLASS_FILE_PATH_MAPPING

    for name in dict.fromkeys(c for e in entries for c in e["involved_classes"]):
        try:
            importlib.import_module(CLASS_FILE_PATH_MAPPING[name])
        except ImportError as exc:
            missing = f"pip install {exc.name}" if exc.name else str(exc)
            raise ConfigurationError(f"BFCL's {name} backend does not import: {exc} ({missing})") from None
