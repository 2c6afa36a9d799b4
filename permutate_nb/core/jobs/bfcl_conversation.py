"""BFCL's multi-turn categories read from the installed ``bfcl-eval`` (entries with their functions).

Why apart from ``bfcl_suite``: a multi-turn entry is a conversation over stateful backends, not one
prompt; its functions are the docs of its ``involved_classes`` (BFCL's ``multi_turn_func_doc``),
minus, in miss_func, the ones held out until the turn BFCL adds them back
(``utils.populate_test_cases_with_predefined_functions``). ``excluded_function`` is not used by BFCL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ...errors import ConfigurationError
from .bfcl_suite import BFCL_EVAL_VERSION, bfcl_data_dir

__all__ = ["ADDED_FUNCTIONS_PROMPT", "MULTI_TURN_CATEGORIES", "read_multi_turn_entries"]

MULTI_TURN_CATEGORIES = ("multi_turn_base", "multi_turn_miss_func", "multi_turn_miss_param", "multi_turn_long_context")
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
