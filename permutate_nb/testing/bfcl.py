"""BFCL (Berkeley Function Calling Leaderboard) cases as permutate plugins and expectations.

Why: ``bfcl`` parameter matching promises BFCL's ``ast_checker`` verdicts for one call; the
conformance test and ``benchmarks/bfcl_agreement.py`` check that promise on BFCL's own data.
Each BFCL function becomes ``POST https://bfcl.test/{case}/{function}`` with a JSON body built
from its parameter doc, and each possible answer an ``expected_parameters`` mapping with
matchers: ``[v]`` -> ``v``; ``[v1, v2]`` -> ``{$one_of: [v1, v2]}``; an ``""`` among the
answers (BFCL's "may be left out") adds ``$optional: true``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BFCL_SERVER", "operation_url", "openapi_document", "expected_parameters", "json_schema"]

BFCL_SERVER = "https://bfcl.test"
_TYPES = {"dict": "object", "float": "number", "tuple": "array", "any": "string"}  # BFCL checks "any" as str
_KEEP = ("description", "enum", "default")


def operation_url(case_id: str, function: str) -> str:
    return f"{BFCL_SERVER}/{case_id}/{function}"


def json_schema(param: dict[str, Any]) -> dict[str, Any]:
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


def openapi_document(cases: list[tuple[str, list[dict[str, Any]]]], title: str = "BFCL functions") -> dict[str, Any]:
    """One OpenAPI 3 document holding every function of the given ``(case id, functions)``."""
    paths: dict[str, Any] = {}
    for case_id, functions in cases:
        for fn in functions:
            body = json_schema(fn["parameters"])
            paths[f"/{case_id}/{fn['name']}"] = {"post": {
                "operationId": f"{case_id}.{fn['name']}",
                "summary": fn.get("description", ""),
                "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
                "responses": {"200": {"description": "the function's result"}},
            }}
    return {"openapi": "3.0.3", "info": {"title": title, "version": "1"}, "servers": [{"url": BFCL_SERVER}], "paths": paths}


def expected_parameters(answer: dict[str, list[Any]]) -> dict[str, Any]:
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
    """Inside a dict answer each key again maps to its accepted values."""
    if isinstance(value, dict):
        return {k: _expected(v) if isinstance(v, list) else v for k, v in value.items()}
    if isinstance(value, list):
        return [_nested(v) if isinstance(v, dict) else v for v in value]
    return value
