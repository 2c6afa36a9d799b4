"""BFCL agreement tooling: candidate answers, BFCL's own verdicts, and our verdicts through the pipeline.

Why: ``parameter_matching: bfcl`` promises BFCL's ``ast_checker`` verdicts (and its relevance
rules). tests/core/test_bfcl_conformance.py and ``benchmarks/bfcl_agreement.py`` hold us to it:
``candidates`` makes answers of every kind for a BFCL case, ``bfcl_verdict`` asks BFCL's checker
(from an installed ``bfcl-eval``, its model registry stubbed: it imports every SDK), and
``pipeline_verdicts`` runs each answer through the real pipeline (a ``BfclJob``, the scripted
OpenAI-compatible server answering with the candidate's calls, scored rows).

A candidate is ``{"kind", "calls"}``: ``calls`` a list of ``[function, arguments]`` (arguments a
dict, or a string sent verbatim: malformed JSON), or ``None`` for a text answer without a call.
The conversion of BFCL cases lives in ``permutate_nb.core.jobs.bfcl_suite``; its names are re-exported.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import re
import sys
import types
from typing import Any

from ..core.jobs.bfcl_suite import (
    BFCL_SERVER,
    category_of,
    expected_parameters,
    json_schema,
    language_of,
    openapi_document,
    operation_url,
    test_case,
)

__all__ = ["BFCL_SERVER", "category_of", "operation_url", "openapi_document", "expected_parameters", "json_schema",
           "language_of", "test_case", "candidates", "load_checker", "bfcl_verdict", "pipeline_verdicts", "tool_name"]

_INVALID = re.compile(r"[^a-zA-Z0-9_-]")


def tool_name(function: str) -> str:
    """The tool name a BFCL function gets (``tools.tool_name_for`` of its operationId)."""
    return _INVALID.sub("_", function.strip())[:64]


# --------------------------------------------------------------------------- BFCL's side

def load_checker() -> Any | None:
    """BFCL's ``ast_checker`` module from the installed ``bfcl-eval`` (None when it is not installed),
    with its model registry replaced by a stub that keeps function names as they are."""
    if importlib.util.find_spec("bfcl_eval") is None:
        return None

    class _AnyModel(dict):
        def __missing__(self, key: str) -> Any:
            return types.SimpleNamespace(underscore_to_dot=False)

    name = "bfcl_eval.constants.model_config"
    if name not in sys.modules or not isinstance(sys.modules[name].__dict__.get("MODEL_CONFIG_MAPPING"), _AnyModel):
        stub = types.ModuleType(name)
        stub.MODEL_CONFIG_MAPPING = _AnyModel()  # type: ignore[attr-defined]
        sys.modules[name] = stub
    return importlib.import_module("bfcl_eval.eval_checker.ast_eval.ast_checker")


def bfcl_verdict(checker: Any, entry: dict[str, Any], calls: list[list[Any]] | None) -> tuple[bool, str]:
    """BFCL's verdict on one answer: the relevance rule for (ir)relevance, else ``ast_checker``
    after BFCL's function-calling decoding (arguments that are not JSON fail to decode)."""
    import json

    decoded: list[dict[str, Any]] | None = None
    if calls:
        try:
            decoded = [{fn: json.loads(args) if isinstance(args, str) else args} for fn, args in calls]
        except ValueError:
            decoded = None
    category = entry["category"]
    if "relevance" in category:
        has_call = decoded is not None and bool(decoded) and not (len(decoded) == 1 and len(decoded[0]) == 0)
        valid = not has_call if "irrelevance" in category else has_call
        return valid, "" if valid else ("irrelevance_error:decoder_success" if has_call else "relevance_error:decoder_failed")
    if decoded is None or not all(isinstance(v, dict) for d in decoded for v in d.values()):
        return False, "ast_decoder:decoder_failed"
    language = {"python": checker.Language.PYTHON, "java": checker.Language.JAVA,
                "javascript": checker.Language.JAVASCRIPT}[language_of(category)]
    try:
        result = checker.ast_checker(entry["functions"], decoded, entry["ground_truth"], language, category, "stub-model")
    except Exception as exc:  # noqa: BLE001 - BFCL crashes on some inputs; its runner would count it as a failure
        return False, f"checker_exception:{type(exc).__name__}"
    return bool(result["valid"]), result.get("error_type", "")


# --------------------------------------------------------------------------- candidates

def _first(values: list[Any]) -> Any:
    return next(v for v in values if v != "")


def _right_args(answer: dict[str, list[Any]]) -> dict[str, Any]:
    return {p: copy.deepcopy(_nested_first(_first(v))) for p, v in answer.items() if any(x != "" for x in v)}


def _nested_first(value: Any) -> Any:
    """A dict answer maps each key to its accepted values: take the first of each."""
    if isinstance(value, dict):
        return {k: (_nested_first(_first(v)) if isinstance(v, list) else v)
                for k, v in value.items() if not (isinstance(v, list) and all(x == "" for x in v))}
    if isinstance(value, list):
        return [_nested_first(v) for v in value]
    return value


def _wrong(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value + 1.5
    if isinstance(value, str):
        return value + "qq"
    if isinstance(value, list):
        return list(reversed(value)) if len(value) > 1 and value != value[::-1] else [*value, *value[:1]] or ["qq"]
    if isinstance(value, dict) and value:
        key = next(iter(value))
        return {**value, key: _wrong(value[key])}
    return "qq"


def _mistyped(value: Any) -> Any:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return 1
    import json

    return json.dumps(value)


def _reformatted(value: Any) -> Any:
    if isinstance(value, str):
        return value.upper().replace(" ", " - ")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return None


def _literal(value: Any, kind: str, nested: str | None, language: str, *, alt: bool = False) -> str:
    """A Python answer value as the Java/JavaScript literal a model sends (``alt``: another spelling)."""
    if language == "java":
        element = lambda v: (f'"{v}"' if (nested or "String") == "String" and isinstance(v, str)  # noqa: E731
                             else f"'{v}'" if nested == "char" else _literal(v, nested or "String", None, "java"))
        if kind == "boolean":
            return ("True" if value else "False") if alt else ("true" if value else "false")
        if kind == "long":
            return f"{value}L"
        if kind == "float":
            return f"{value}f"
        if kind == "double":
            return f"{float(value)}" if alt else str(value)
        if kind == "ArrayList" and isinstance(value, list):
            if alt:
                return "new ArrayList<>() {{ " + " ".join(f"add({element(v)});" for v in value) + " }}"
            return f"new ArrayList<>(Arrays.asList({', '.join(element(v) for v in value)}))" if value else "new ArrayList<>()"
        if kind == "Array" and isinstance(value, list):  # BFCL keeps quotes of array elements: unquoted is "right"
            items = [(element(v) if alt else str(v)) if (nested or "String") == "String" else element(v) for v in value]
            return f"new {nested or 'String'}[]{{{', '.join(items)}}}"
        if kind == "HashMap" and isinstance(value, dict):
            puts = " ".join(f'put("{k}", {element(v)});' for k, v in value.items())
            return f"new HashMap<String, String>() {{{{ {puts} }}}}"
        return str(value)
    # javascript
    element = lambda v: f"'{v}'" if isinstance(v, str) else _literal(v, "any", None, "javascript")  # noqa: E731
    if kind == "String":
        return f'"{value}"' if alt else str(value)
    if kind == "Boolean" or isinstance(value, bool):
        return ("True" if value else "False") if alt else ("true" if value else "false")
    if kind == "Bigint":
        return f"{value}n"
    if kind == "float":
        return f"{float(value)}" if alt else str(value)
    if kind == "array" and isinstance(value, list):
        return "[" + ", ".join(element(v) for v in value) + "]"
    if kind == "dict" and isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {element(v)}" for k, v in value.items()) + "}"
    return str(value)


def _call_variants(fn_doc: dict[str, Any], answer: dict[str, list[Any]], language: str) -> list[tuple[str, dict[str, Any]]]:
    """(kind, arguments) for one expected call: right, alternatives, reformatted, wrong, mistyped,
    missing, null, extra."""
    props = fn_doc["parameters"].get("properties", {})
    right = _right_args(answer)
    if language != "python":
        lit = {p: _literal(v, props.get(p, {}).get("type", "String"), (props.get(p, {}).get("items") or {}).get("type"),
                           language) for p, v in right.items()}
        out: list[tuple[str, dict[str, Any]]] = [("right", lit)]
        for p, value in right.items():
            kind = props.get(p, {}).get("type", "String")
            nested = (props.get(p, {}).get("items") or {}).get("type")
            alt = _literal(value, kind, nested, language, alt=True)
            if alt != lit[p]:
                out.append(("reformatted", {**lit, p: alt}))
            out.append(("wrong", {**lit, p: _literal(_wrong(value), kind, nested, language)}))
            out.append(("mistyped", {**lit, p: value if not isinstance(value, str) else 1}))
            out.append(("missing", {k: v for k, v in lit.items() if k != p}))
        for p, values in answer.items():
            out += [("alternative", {**lit, p: _literal(x, props.get(p, {}).get("type", "String"),
                                                        (props.get(p, {}).get("items") or {}).get("type"), language)})
                    for x in [x for x in values if x != ""][1:]]
            if "" in values and p in lit:
                out.append(("alternative", {k: x for k, x in lit.items() if k != p}))
        optional = [p for p, values in answer.items() if "" in values] or list(lit)
        if optional:
            out.append(("null", {**lit, optional[0]: None}))
        out.append(("extra", {**lit, "extra_flag": "true"}))
        return out
    out = [("right", right)]
    for p, values in answer.items():
        out += [("alternative", {**right, p: x}) for x in [x for x in values if x != ""][1:]]
        if "" in values and p in right:
            out.append(("alternative", {k: x for k, x in right.items() if k != p}))
    for p, value in right.items():
        changed = _reformatted(value)
        if changed is not None:
            out.append(("reformatted", {**right, p: changed}))
        out.append(("wrong", {**right, p: _wrong(value)}))
        out.append(("mistyped", {**right, p: _mistyped(value)}))
        out.append(("missing", {k: v for k, v in right.items() if k != p}))
    nullable = [p for p, values in answer.items() if "" in values] or list(right)
    for p in nullable[:2]:
        out.append(("null", {**right, p: None}))
    out.append(("extra", {**right, "extra_flag": True}))
    out += [("extra", {**right, p: _mistyped("x")}) for p in props if p not in answer][:2]
    return out


def candidates(entry: dict[str, Any], *, per_kind: int | None = None) -> list[dict[str, Any]]:
    """Answers of every kind for one BFCL case; ``per_kind`` keeps at most that many of each kind."""
    category = entry["category"]
    functions = entry["functions"]
    out: list[dict[str, Any]] = []
    if "relevance" in category:  # irrelevance, live_irrelevance, live_relevance
        fn: dict[str, Any] = functions[0] if functions else {"name": "no_function", "parameters": {"properties": {}}}
        props = list((fn.get("parameters") or {}).get("properties", {}))
        out.append({"kind": "no_call", "calls": None})
        out.append({"kind": "call", "calls": [[fn["name"], dict.fromkeys(props[:1], "x")]]})
        out.append({"kind": "call_empty", "calls": [[fn["name"], {}]]})
        out.append({"kind": "malformed", "calls": [[fn["name"], "{not json"]]})
        if len(functions) > 1:
            out.append({"kind": "two_calls", "calls": [[functions[0]["name"], {}], [functions[1]["name"], {}]]})
        return out
    language = language_of(category)
    docs = {f["name"]: f for f in functions}
    expected = [next(iter(call.items())) for call in entry["ground_truth"]]
    variants = [_call_variants(docs[fn], answer, language) for fn, answer in expected]
    right = [[fn, variants[i][0][1]] for i, (fn, _) in enumerate(expected)]
    out.append({"kind": "right", "calls": right})
    for i, per_call in enumerate(variants):
        for kind, arguments in per_call[1:]:
            calls = copy.deepcopy(right)
            calls[i][1] = arguments
            out.append({"kind": kind, "calls": calls})
    out.append({"kind": "none_wanted", "calls": None})  # a text answer where calls were wanted
    out.append({"kind": "malformed", "calls": [[right[0][0], "{not json"]] + right[1:]})
    if len(right) > 1:
        out.append({"kind": "reordered", "calls": list(reversed(right))})
        out.append({"kind": "missing_call", "calls": right[:-1]})
    out.append({"kind": "extra_call", "calls": right + right[:1]})
    others = [f["name"] for f in functions if f["name"] not in {fn for fn, _ in expected}]
    if others:
        out.append({"kind": "wrong_function", "calls": [[others[0], right[0][1]]] + right[1:]})
    if per_kind is not None:
        seen: dict[str, int] = {}
        kept = []
        for cand in out:
            if seen.get(cand["kind"], 0) < per_kind:
                kept.append(cand)
                seen[cand["kind"]] = seen.get(cand["kind"], 0) + 1
        out = kept
    return out


# --------------------------------------------------------------------------- our side, through the pipeline

def pipeline_verdicts(cases: list[dict[str, Any]], server: Any, *, folder: Any = None,
                      concurrency: int = 16) -> dict[str, Any]:
    """Run every candidate of ``cases`` (entries with ``candidates``) through a ``BfclJob`` whose
    model is the scripted ``server``; returns the rows by ``{case id}~{candidate index}``."""
    from ..core.jobs.bfcl import BfclJob
    from ..core.jobs.bfcl_suite import build_request
    from ..core.jobs.handle import blocking
    from ..core.jobs.launch import launch
    from ..core.jobs.permutate import plan_job
    from ..core.jobs.permutate_result import JobResult

    entries, rules = [], []
    for case in cases:
        for i, cand in enumerate(case["candidates"]):
            name = f"{case['id']}~{i}"
            entries.append({**case, "id": name, "prompt": f"«{name}» {case['prompt']}"})
            if cand["calls"] is None:
                response: dict[str, Any] = {"text": "I cannot help with that using these functions."}
            else:
                response = {"tool_calls": [{"name": tool_name(fn), "arguments": args} for fn, args in cand["calls"]]}
            rules.append({"match": f"«{name}»", "responses": [response]})
    llm = {"provider": "OpenAIChat", "model_name": "scripted-model", "temperature": 0, "base_url": server.base_url}
    permutation = {"name": "scripted", "llm": llm, "tool_selector": {"provider": "OpenAI", "plugin_group_name": "bfcl"}}
    request = build_request(entries, [permutation], config={"cache": False, "max_retries": 0, "concurrency": concurrency},
                            folder=folder)
    server.set_script({"rules": rules})
    server.record = False
    result = blocking(launch(BfclJob(plan_job(request))))
    assert isinstance(result, JobResult)  # a BfclJob's result
    return {row.test_case_name: row for row in result.details}
