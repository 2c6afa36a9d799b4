"""``parameter_matching: bfcl`` gives BFCL's own verdicts, through the real pipeline.

tests/data/bfcl/sample.json holds 101 BFCL cases (simple_python and multiple) with 1,471
candidate calls (right, alternative, reformatted, wrong, extra, missing, mistyped, wrong
function) and the verdict BFCL's ``ast_checker`` gave each (see NOTICE.md there for the command).
Here every function becomes ``POST https://bfcl.test/{case}/{function}`` in one OpenAPI
document, the scripted OpenAI-compatible server answers each candidate's prompt with the
candidate as a tool call, and the engine scores the run: ``passed`` must equal BFCL's verdict.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import permutate_nb as pn
from permutate_nb.testing.bfcl import expected_parameters, openapi_document, operation_url

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "bfcl" / "sample.json"


def _request(cases: list[dict[str, Any]], doc: Path, base_url: str) -> dict[str, Any]:
    test_cases = []
    for case in cases:
        function, answer = next(iter(case["ground_truth"][0].items()))
        for i, _ in enumerate(case["candidates"]):
            test_cases.append({
                "name": f"{case['id']}#{i}", "type": "api_signature_selector",
                "prompt": f"«{case['id']}#{i}» {case['question']}",
                "expected_plugin_used": str(doc), "expected_api_used": operation_url(case["id"], function),
                "expected_method": "POST", "expected_parameters": expected_parameters(answer),
            })
    llm = {"provider": "OpenAIChat", "model_name": "scripted-model", "temperature": 0, "base_url": base_url}
    return {
        "name": "bfcl_conformance",
        "config": {"parameter_matching": "bfcl", "cache": False, "max_retries": 0, "concurrency": 16},
        "plugin_groups": [{"name": "bfcl", "plugins": [{"manifest_url": str(doc)}]}],
        "permutations": [{"name": "scripted", "llm": llm, "tool_selector": {"provider": "OpenAI", "plugin_group_name": "bfcl"}}],
        "test_cases": test_cases,
    }


def test_bfcl_mode_agrees_with_bfcl_ast_checker(scripted: Any, tmp_path: Path) -> None:
    cases = json.loads(SAMPLE.read_text(encoding="utf-8"))["cases"]
    assert len(cases) >= 100
    doc = tmp_path / "bfcl_openapi.json"
    doc.write_text(json.dumps(openapi_document([(c["id"], c["functions"]) for c in cases])), encoding="utf-8")
    request = _request(cases, doc, scripted.base_url)
    plan = pn.validate(request)
    tool_of = {op.url: name for name, op in plan.toolsets["bfcl"].by_name.items()}
    rules, verdicts = [], {}
    for case in cases:
        for i, cand in enumerate(case["candidates"]):
            call = {"name": tool_of[operation_url(case["id"], cand["function"])], "arguments": cand["arguments"]}
            rules.append({"match": f"«{case['id']}#{i}»", "responses": [{"tool_call": call}]})
            verdicts[f"{case['id']}#{i}"] = (cand["bfcl_valid"], cand["kind"])
    scripted.set_script({"rules": rules})
    scripted.record = False

    result = pn.run(request, store=False)

    rows = {row.test_case_name: row for row in result.details}
    assert len(rows) == len(verdicts) and all(row.is_run_completed for row in rows.values())
    disagreements = [(name, kind, valid, rows[name].parameter_mismatches)
                     for name, (valid, kind) in verdicts.items() if rows[name].passed != valid]
    assert disagreements == []
    # the sample is no walkover: BFCL accepts some of each kind it should and refuses the rest
    kinds = {kind for valid, kind in verdicts.values() if valid}
    assert {"right", "alternative", "reformatted"} <= kinds
    assert {"extra", "mistyped", "wrong_function"}.isdisjoint(kinds)
    assert 0 < sum(valid for valid, _ in verdicts.values()) < len(verdicts)
