"""BFCL's single-turn categories as a permutate request, and BFCL's scores from its rows.

Why: ``permutate bfcl`` runs the Berkeley Function Calling Leaderboard's own cases against any
permutation's model and scores them as BFCL does, with what the leaderboard lacks beside them
(Wilson intervals, cost, latency, paired comparisons). The data is read from the installed
``bfcl-eval`` package (extra ``bfcl``); nothing is downloaded.

Each BFCL function becomes ``POST https://bfcl.test/{case}/{function}`` in one OpenAPI document
(operationId: the function's name, so the model sees BFCL's tool names), and each case a test
case offered only its own functions (``core.bfcl_job``): ``expected_calls`` from the possible
answers (``[v]`` -> ``v``; ``[v1, v2]`` -> ``{$one_of: [v1, v2]}``; ``""`` among them adds
``$optional: true``), ``expect_no_call`` for irrelevance, ``expect_any_call`` for live_relevance.
Java and JavaScript parameters are offered as strings, as BFCL offers them to function-calling
models, with their language type kept in ``x-language-type`` for bfcl mode's converters.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ...errors import ConfigurationError, MissingExtraError
from ..scoring.bfcl_check import LANGUAGE_ITEMS_KEY, LANGUAGE_TYPE_KEY
from ..stats.exact import wilson
from ..store.paths import permutate_home

__all__ = ["ALL_CATEGORIES", "BFCL_EVAL_VERSION", "MULTI_TURN_CATEGORIES", "BFCL_SERVER", "CATEGORIES", "bfcl_data_dir", "build_request", "category_of",
           "check_categories", "expected_parameters", "json_schema", "language_of", "openapi_document",
           "operation_url", "read_entries", "report", "test_case"]

BFCL_EVAL_VERSION = "2026.3.23"
BFCL_SERVER = "https://bfcl.test"
CATEGORIES = ("simple_python", "simple_java", "simple_javascript", "multiple", "parallel", "parallel_multiple",
              "irrelevance", "live_simple", "live_multiple", "live_parallel", "live_parallel_multiple",
              "live_irrelevance", "live_relevance")
#: The multi-turn categories (conversations over BFCL's backends: ``bfcl_conversation``).
MULTI_TURN_CATEGORIES = ("multi_turn_base", "multi_turn_miss_func", "multi_turn_miss_param", "multi_turn_long_context")
ALL_CATEGORIES = CATEGORIES + MULTI_TURN_CATEGORIES
_TYPES = {"dict": "object", "float": "number", "tuple": "array", "any": "string"}  # BFCL checks "any" as str
_KEEP = ("description", "enum", "default")
_HINT = {"java": " Note that the provided function is in Java 8 SDK syntax.",
         "javascript": " Note that the provided function is in JavaScript syntax."}
_LANGUAGE_NAME = {"java": "Java", "javascript": "JavaScript"}


# --------------------------------------------------------------------------- data

def bfcl_data_dir() -> Path:
    """The installed ``bfcl-eval``'s data folder (found without importing the package)."""
    spec = importlib.util.find_spec("bfcl_eval")
    if spec is None or not spec.submodule_search_locations:
        error = MissingExtraError("bfcl-eval", "bfcl")
        error.args = (f"bfcl-eval is not installed: run  pip install --no-deps bfcl-eval=={BFCL_EVAL_VERSION}",)
        raise error
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def check_categories(names: Iterable[str]) -> list[str]:
    """The category names, checked against BFCL's single- and multi-turn categories (an error lists them)."""
    names = [n.strip() for n in names if n.strip()]
    unknown = [n for n in names if n not in ALL_CATEGORIES]
    if unknown or not names:
        shown = f"unknown BFCL category {unknown[0]!r}" if unknown else "no BFCL category given"
        raise ConfigurationError(f"{shown}; valid categories: {', '.join(ALL_CATEGORIES)}")
    return list(dict.fromkeys(names))


def language_of(category: str) -> str:
    """The language a category's functions are written for (``java``, ``javascript``, else ``python``):
    BFCL's checker and the functions' schemas depend on it."""
    if "javascript" in category:
        return "javascript"
    return "java" if "java" in category else "python"


def category_of(case_name: str) -> str:
    """``live_multiple_12-3-4`` -> ``live_multiple`` (the id's last ``_`` part is its number)."""
    return case_name.split("~", 1)[0].rsplit("_", 1)[0]


def _prompt(question: Any) -> str:
    """The first turn's messages as one prompt (the selectors send one user message)."""
    turn = question[0] if question and isinstance(question[0], list) else question
    messages = [m for m in turn if isinstance(m, dict)]
    if len(messages) == 1:
        return str(messages[0].get("content", ""))
    return "\n\n".join(f"{m.get('role', 'user')}: {m.get('content', '')}" for m in messages)


def read_entries(category: str, *, data: Path | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """One category's cases: id, category, prompt, functions, ground_truth (None without answers)."""
    data = data or bfcl_data_dir()
    path = data / f"BFCL_v4_{category}.json"
    if not path.is_file():
        raise ConfigurationError(f"{path}: not found in the installed bfcl-eval (version {BFCL_EVAL_VERSION} expected)")
    with path.open(encoding="utf-8") as lines:
        questions = [json.loads(line) for line in lines if line.strip()]
    if limit is not None:
        questions = questions[:limit]
    answers: dict[str, Any] = {}
    answer_path = data / "possible_answer" / f"BFCL_v4_{category}.json"
    if answer_path.is_file():
        with answer_path.open(encoding="utf-8") as lines:
            answers = {a["id"]: a["ground_truth"] for a in map(json.loads, filter(str.strip, lines))}
    return [{"id": q["id"], "category": category, "prompt": _prompt(q["question"]), "functions": q["function"],
             "ground_truth": answers.get(q["id"])} for q in questions]


# --------------------------------------------------------------------------- functions -> OpenAPI

def operation_url(case_id: str, function: str) -> str:
    """The URL of one case's function in the generated OpenAPI document: each function is one operation."""
    return f"{BFCL_SERVER}/{case_id}/{function}"


def json_schema(param: Mapping[str, Any]) -> dict[str, Any]:
    """A BFCL parameter doc (Python type names) as JSON Schema."""
    kind = str(param.get("type", "string"))
    schema: dict[str, Any] = {"type": _TYPES.get(kind, kind)}
    schema.update({k: param[k] for k in _KEEP if k in param})
    if isinstance(param.get("items"), dict):
        schema["items"] = json_schema(param["items"])
    if isinstance(param.get("properties"), dict):
        schema["properties"] = {name: json_schema(p) for name, p in param["properties"].items()}
        if isinstance(param.get("required"), list):
            schema["required"] = list(param["required"])
    return schema


def _language_schema(param: Mapping[str, Any], language: str) -> dict[str, Any]:
    """A Java/JavaScript parameter as BFCL offers it to function-calling models: a string, its
    language type in the description (and in ``x-language-type`` for bfcl mode)."""
    kind = str(param.get("type", "String"))
    name = _LANGUAGE_NAME[language]
    description = str(param.get("description", ""))
    if kind == "any":
        description += f" This parameter can be of any type of {name} object in string representation."
    else:
        description += f" This is {name} {kind} type parameter in string representation."
    schema: dict[str, Any] = {"type": "string", LANGUAGE_TYPE_KEY: kind}
    items = param.get("items") if isinstance(param.get("items"), dict) else None
    if items and kind in ("ArrayList", "Array", "array"):
        description += f" The list elements are of type {items.get('type')}; they are not in string representation."
        schema[LANGUAGE_ITEMS_KEY] = str(items.get("type"))
    if language == "javascript" and kind == "dict" and isinstance(param.get("properties"), dict):
        description += (" The dictionary entries have the following schema; they are not in string representation. "
                        + json.dumps(param["properties"]))
    schema["description"] = description
    return schema


def _body(fn: Mapping[str, Any], language: str) -> dict[str, Any]:
    params = fn.get("parameters") or {}
    if language == "python":
        body = json_schema({**params, "type": "dict"})
        body.setdefault("properties", {})
        return body
    props = params.get("properties") or {}
    return {"type": "object", "properties": {k: _language_schema(p, language) for k, p in props.items()},
            "required": list(params.get("required") or [])}


def openapi_document(cases: Sequence[tuple[str, Sequence[Mapping[str, Any]]]], title: str = "BFCL functions",
                     *, language_of_case: Mapping[str, str] | None = None) -> dict[str, Any]:
    """One OpenAPI 3 document holding every function of the given ``(case id, functions)``."""
    paths: dict[str, Any] = {}
    for case_id, functions in cases:
        language = (language_of_case or {}).get(case_id, "python")
        for fn in functions:
            paths[f"/{case_id}/{fn['name']}"] = {"post": {
                "operationId": fn["name"],
                "summary": str(fn.get("description", "")) + _HINT.get(language, ""),
                "requestBody": {"required": True, "content": {"application/json": {"schema": _body(fn, language)}}},
                "responses": {"200": {"description": "the function's result"}},
            }}
    return {"openapi": "3.0.3", "info": {"title": title, "version": "1"}, "servers": [{"url": BFCL_SERVER}], "paths": paths}


# --------------------------------------------------------------------------- answers -> expectations

def expected_parameters(answer: Mapping[str, list[Any]]) -> dict[str, Any]:
    """BFCL possible answers (parameter -> accepted values, ``""`` = may be left out) as matchers."""
    return {name: _expected(values) for name, values in answer.items()}


def _expected(values: list[Any]) -> Any:
    optional = "" in values
    accepted = [_nested(v) for v in values if v != ""]
    if not optional and len(accepted) == 1:
        return accepted[0]
    matcher: dict[str, Any] = {"$one_of": accepted}
    if optional:
        matcher["$optional"] = True
    return matcher


def _nested(value: Any) -> Any:
    """Inside a dict answer each key again maps to its accepted values. A few BFCL answers give a bare
    string there (simple_java_64); BFCL's ``dict_checker`` then iterates its characters and finds
    ``""`` in it, so the key may be left out or be one character: kept as BFCL scores it."""
    if isinstance(value, dict):
        return {k: _expected(v) if isinstance(v, list) else
                ({"$one_of": list(v), "$optional": True} if isinstance(v, str) else v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nested(v) if isinstance(v, dict) else v for v in value]
    return value


def test_case(entry: Mapping[str, Any], plugin: str, *, name: str | None = None, prompt: str | None = None) -> dict[str, Any]:
    """One BFCL case as a permutate test case expecting BFCL's calls (or none, or any)."""
    case: dict[str, Any] = {"name": name or entry["id"], "type": "api_signature_selector",
                            "prompt": prompt if prompt is not None else entry["prompt"]}
    category = entry["category"]
    if language_of(category) != "python":
        case["function_language"] = language_of(category)
    if "irrelevance" in category:
        case["expect_no_call"] = True
    elif "relevance" in category:
        case["expect_any_call"] = True
    else:
        case["expected_calls"] = [
            {"plugin": plugin, "api": operation_url(entry["id"], fn), "method": "POST",
             "parameters": expected_parameters(answer)}
            for call in entry["ground_truth"] for fn, answer in call.items()]
    return case


test_case.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def build_request(entries: Sequence[Mapping[str, Any]], permutations: list[dict[str, Any]], *,
                  config: Mapping[str, Any] | None = None, name: str = "bfcl", folder: Path | None = None,
                  case_of: Callable[[Mapping[str, Any], str], dict[str, Any]] | None = None) -> dict[str, Any]:
    """The request running these cases on these permutations; the OpenAPI document goes to
    ``folder`` (default ``$PERMUTATE_HOME/bfcl``), named by its content so a resumed job finds it.
    ``case_of(entry, plugin)`` makes each test case (default ``test_case``); an entry's ``held_out``
    functions (miss_func) are in the document beside its ``functions``."""
    doc = openapi_document([(e["id"], [*e["functions"], *(f for fs in (e.get("held_out") or {}).values() for f in fs)])
                            for e in entries],
                           language_of_case={e["id"]: language_of(e["category"]) for e in entries})
    text = json.dumps(doc, ensure_ascii=False, sort_keys=True)
    folder = folder or permutate_home() / "bfcl"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"bfcl-{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    plugin = str(path)
    groups = {p["tool_selector"]["plugin_group_name"] for p in permutations}
    return {
        "name": name,
        "config": {"parameter_matching": "bfcl", **(config or {})},
        "plugin_groups": [{"name": g, "plugins": [{"manifest_url": plugin}]} for g in sorted(groups)],
        "permutations": permutations,
        "test_cases": [(case_of or test_case)(e, plugin) for e in entries],
    }


# --------------------------------------------------------------------------- scores

def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _p95(values: list[float]) -> float | None:
    """The 95th percentile (nearest rank)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def _unweighted(parts: list[tuple[float, int] | None]) -> float | None:
    given = [p[0] for p in parts if p is not None]
    return sum(given) / len(given) if given else None


def _weighted(parts: list[tuple[float, int] | None]) -> float | None:
    given = [p for p in parts if p is not None and p[1]]
    total = sum(n for _, n in given)
    return sum(a * n for a, n in given) / total if total else None


def _formula(acc: Mapping[str, tuple[float, int]]) -> dict[str, float | None]:
    """BFCL's summary formulas (``eval_runner_helper``) over the categories run: simple is the
    unweighted mean of the three languages; non-live the unweighted mean of simple, multiple,
    parallel, parallel_multiple; live the mean weighted by case counts; irrelevance the mean of
    both; multi_turn the unweighted mean of its four categories; overall BFCL's weights
    (10, 10, 10, 30) for non-live, live, irrelevance and multi-turn (agentic's 40 is not run)."""
    get = acc.get
    simple = _unweighted([get("simple_python"), get("simple_java"), get("simple_javascript")])
    non_live = _unweighted([None if simple is None else (simple, 1), get("multiple"), get("parallel"),
                            get("parallel_multiple")])
    live = _weighted([get("live_simple"), get("live_multiple"), get("live_parallel"), get("live_parallel_multiple")])
    irrelevance = _unweighted([get("irrelevance"), get("live_irrelevance")])
    relevance_part = get("live_relevance")
    relevance = relevance_part[0] if relevance_part else None
    multi_turn = _unweighted([get(c) for c in MULTI_TURN_CATEGORIES])
    overall = _weighted([None if x is None else (x, w) for x, w in
                         ((non_live, 10), (live, 10), (irrelevance, 10), (multi_turn, 30))])
    return {"simple_ast": simple, "non_live": non_live, "live": live, "irrelevance": irrelevance,
            "relevance": relevance, "multi_turn": multi_turn, "overall": overall}


def report(rows: Iterable[Any]) -> dict[str, Any]:
    """Per permutation: each category's accuracy (percent) with its Wilson interval, BFCL's summary
    formulas, cost, and latency mean / p95, from the job's detail rows."""
    by_perm: dict[str, dict[str, list[Any]]] = {}
    for row in rows:
        by_perm.setdefault(row.permutation_name, {}).setdefault(category_of(row.test_case_name), []).append(row)
    out: dict[str, Any] = {}
    for perm, cats in by_perm.items():
        categories = {}
        acc: dict[str, tuple[float, int]] = {}
        everything: list[Any] = []
        for category in [c for c in ALL_CATEGORIES if c in cats] + [c for c in cats if c not in ALL_CATEGORIES]:
            group = cats[category]
            everything += group
            passed = sum(bool(r.passed) for r in group)
            acc[category] = (passed / len(group), len(group))
            categories[category] = {"cases": len(group), "passed": passed,
                                    "accuracy": round(100 * passed / len(group), 2), "accuracy_ci": wilson(passed, len(group)),
                                    "failed_runs": sum(not r.is_run_completed for r in group)}
        costs = [r.llm_api_cost for r in everything]
        times = [float(r.response_time_sec) for r in everything]
        out[perm] = {
            "categories": categories,
            **{k: None if v is None else round(100 * v, 2) for k, v in _formula(acc).items()},
            "cases": len(everything),
            "cost": None if any(c is None for c in costs) else round(sum(costs), 6),
            "latency_mean_sec": None if not times else round(_mean(times) or 0.0, 3),
            "latency_p95_sec": None if not times else round(_p95(times) or 0.0, 3),
        }
    return out
