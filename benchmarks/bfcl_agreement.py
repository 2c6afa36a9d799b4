"""How often permutate's ``bfcl`` parameter matching agrees with BFCL's own ``ast_checker``.

Needs the ``bfcl-eval`` package (its data and checker), which is NOT a dependency of the project:
its requirements pull in torch and a dozen SDKs. Install it without them into a throwaway venv
and point this script at it; the checker is pure Python, only its model registry (which imports
every SDK) is replaced by a stub that keeps function names as they are:

    python3 -m venv /tmp/bfclvenv && /tmp/bfclvenv/bin/pip install --no-deps bfcl-eval
    PYTHONPATH=. python benchmarks/bfcl_agreement.py measure --bfcl /tmp/bfclvenv/lib/python3.11/site-packages
    PYTHONPATH=. python benchmarks/bfcl_agreement.py sample  --bfcl /tmp/bfclvenv/lib/python3.11/site-packages

``measure`` generates candidate calls (right, alternative, reformatted, wrong, extra, missing,
mistyped, and for ``multiple`` the wrong function) for all of ``simple_python`` (400) and
``multiple`` (200), asks BFCL for each verdict, and scores each candidate through permutate's
scoring functions directly (the operation comes from the generated OpenAPI document through
the real loader; the model call is skipped, as 2 shared cores make 6,000 engine runs slow).
``sample`` writes ``tests/data/bfcl/sample.json``: every 5th case with its candidates and
BFCL's verdicts, which tests/core/test_bfcl_conformance.py runs through the real pipeline.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import importlib.metadata
import json
import sys
import types
from collections import Counter
from pathlib import Path
from typing import Any

from permutate_nb.core.plugins.openapi import extract_operations
from permutate_nb.core.scoring.steps import score_selection
from permutate_nb.testing.bfcl import expected_parameters, openapi_document, operation_url

CATEGORIES = ("simple_python", "multiple")
SAMPLE = Path(__file__).resolve().parent.parent / "tests" / "data" / "bfcl" / "sample.json"


# --------------------------------------------------------------------------- BFCL side

def load_bfcl(site: str) -> tuple[Any, Path]:
    """BFCL's ``ast_checker`` module and its data folder, with the model registry stubbed."""
    sys.path.insert(0, site)

    class _AnyModel(dict):
        def __missing__(self, key: str) -> Any:
            return types.SimpleNamespace(underscore_to_dot=False)

    stub = types.ModuleType("bfcl_eval.constants.model_config")
    stub.MODEL_CONFIG_MAPPING = _AnyModel()  # type: ignore[attr-defined]
    sys.modules["bfcl_eval.constants.model_config"] = stub
    checker = importlib.import_module("bfcl_eval.eval_checker.ast_eval.ast_checker")
    data = Path(importlib.import_module("bfcl_eval").__file__).parent / "data"
    return checker, data


def read_cases(data: Path, category: str) -> list[dict[str, Any]]:
    questions = [json.loads(line) for line in (data / f"BFCL_v4_{category}.json").open()]
    answers = {a["id"]: a for a in map(json.loads, (data / "possible_answer" / f"BFCL_v4_{category}.json").open())}
    return [{"id": q["id"], "category": category, "question": q["question"][0][-1]["content"],
             "functions": q["function"], "ground_truth": answers[q["id"]]["ground_truth"]} for q in questions]


def bfcl_verdict(checker: Any, case: dict[str, Any], function: str, arguments: dict[str, Any]) -> tuple[bool, str]:
    language = checker.Language.PYTHON
    result = checker.ast_checker(case["functions"], [{function: arguments}], case["ground_truth"], language,
                                 case["category"], "stub-model")
    return bool(result["valid"]), result.get("error_type", "")


# --------------------------------------------------------------------------- candidates

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
    return json.dumps(value)


def _reformatted(value: Any) -> Any:
    if isinstance(value, str):
        return value.upper().replace(" ", " - ")
    if isinstance(value, float) and value.is_integer():
        return int(value)  # an int for a float: Python would convert it
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return None


def _first(values: list[Any]) -> Any:
    return next(v for v in values if v != "")


def candidates(case: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, function, arguments) calls built from the first accepted answer, one per parameter
    and kind: every other accepted value or omission, reformatted, wrong, mistyped, missing."""
    function, answer = next(iter(case["ground_truth"][0].items()))
    doc = next(f for f in case["functions"] if f["name"] == function)
    props = doc["parameters"].get("properties", {})
    right = {p: copy.deepcopy(_first(v)) for p, v in answer.items() if any(x != "" for x in v)}
    out = [("right", function, right)]
    for p, values in answer.items():
        out += [("alternative", function, {**right, p: x}) for x in [x for x in values if x != ""][1:]]
        if "" in values and p in right:
            out.append(("alternative", function, {k: x for k, x in right.items() if k != p}))
    for p, value in right.items():
        changed = _reformatted(value)
        if changed is not None:
            out.append(("reformatted", function, {**right, p: changed}))
        out.append(("wrong", function, {**right, p: _wrong(value)}))
        out.append(("mistyped", function, {**right, p: _mistyped(value)}))
        out.append(("missing", function, {k: v for k, v in right.items() if k != p}))
    out.append(("extra", function, {**right, "extra_flag": True}))
    out += [("extra", function, {**right, p: _mistyped("x")}) for p in props if p not in answer]
    out += [("wrong_function", f["name"], right) for f in case["functions"] if f["name"] != function]
    return out


# --------------------------------------------------------------------------- our side

def our_verdict(case: dict[str, Any], function: str, arguments: dict[str, Any], mode: str = "bfcl") -> bool:
    """permutate's verdict (steps b and c in ``bfcl`` mode) for one candidate call."""
    doc = openapi_document([(case["id"], case["functions"])])
    operations = {op.url: op for op in extract_operations(doc, "bfcl.json", plugin_id="bfcl", plugin_name="BFCL")}
    chosen = operations[operation_url(case["id"], function)]
    expected_function, answer = next(iter(case["ground_truth"][0].items()))
    scores = score_selection(
        test_type="api_signature_selector", expected_plugin="bfcl",
        expected_url=operation_url(case["id"], expected_function), expected_method="POST",
        expected_parameters=expected_parameters(answer), plugin_id="bfcl", url=chosen.url, method=chosen.method,
        arguments=arguments, mode=mode, schema=chosen.parameters, locations=chosen.locations,
    )
    return scores.passed


def measure(checker: Any, data: Path, mode: str) -> int:
    total, agree, valid = Counter(), Counter(), Counter()
    disagreements = []
    for category in CATEGORIES:
        for case in read_cases(data, category):
            for kind, function, arguments in candidates(case):
                theirs, error = bfcl_verdict(checker, case, function, arguments)
                ours = our_verdict(case, function, arguments, mode)
                total[kind] += 1
                valid[kind] += theirs
                agree[kind] += ours == theirs
                if ours != theirs:
                    disagreements.append((case["id"], kind, function, arguments, theirs, error))
    n, a = sum(total.values()), sum(agree.values())
    print(f"{mode} mode agrees with BFCL's ast_checker on {a}/{n} = {100 * a / n:.2f}% "
          f"({len(CATEGORIES)} categories: {', '.join(CATEGORIES)})")
    for kind in sorted(total):
        print(f"  {kind:15} agree {agree[kind]:5}/{total[kind]:<5} (BFCL: {valid[kind]} valid)")
    for item in disagreements[:40]:
        print("  disagree:", json.dumps(item)[:300])
    return 0


def write_sample(checker: Any, data: Path, every: int) -> int:
    cases = []
    for category in CATEGORIES:
        for case in read_cases(data, category)[::every]:
            case["candidates"] = []
            for kind, function, arguments in candidates(case):
                valid, error = bfcl_verdict(checker, case, function, arguments)
                case["candidates"].append({"kind": kind, "function": function, "arguments": arguments,
                                           "bfcl_valid": valid, "bfcl_error_type": error})
            cases.append(case)
    head = {"source": f"bfcl-eval {importlib.metadata.version('bfcl_eval')} (Apache-2.0), "
                      f"every {every}th case of {', '.join(CATEGORIES)}",
            "made_by": f"PYTHONPATH=. python benchmarks/bfcl_agreement.py sample --every {every} --bfcl <site-packages>"}
    lines = ",\n".join(json.dumps(case, ensure_ascii=False) for case in cases)  # one case a line: reviewable diffs
    SAMPLE.parent.mkdir(parents=True, exist_ok=True)
    SAMPLE.write_text(json.dumps(head)[:-1] + ',\n"cases": [\n' + lines + "\n]}\n", encoding="utf-8")
    n = sum(len(c["candidates"]) for c in cases)
    print(f"wrote {SAMPLE}: {len(cases)} cases, {n} candidates, "
          f"{sum(x['bfcl_valid'] for c in cases for x in c['candidates'])} valid by BFCL")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("measure", "sample"))
    parser.add_argument("--bfcl", required=True, help="the site-packages folder holding bfcl_eval")
    parser.add_argument("--mode", default="bfcl", help="measure: the parameter_matching mode (default bfcl)")
    parser.add_argument("--every", type=int, default=5, help="sample: keep every n-th case (default 5)")
    args = parser.parse_args(argv)
    checker, data = load_bfcl(args.bfcl)
    return measure(checker, data, args.mode) if args.what == "measure" else write_sample(checker, data, args.every)


if __name__ == "__main__":
    raise SystemExit(main())
