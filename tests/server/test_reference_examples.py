"""The reference documents' example bodies sent to ``permutate serve``, and its answers held against the
documents' example responses field by field: names, JSON types, nesting, status words, time format.

Bodies and examples are copied verbatim into ``tests/data/`` (seed 000's start-job request and
response, seed 002's batch bodies and results response, seed 003's execution list and validation
error). Where a document shows ``null`` or a placeholder, any value of the field's type passes;
fields of ours beyond the document's are allowed after them. Times are in each document's format,
in UTC. Two start-job fields are null where nothing was measured (the document shows 0.0, which would
read as a score): ``match_score`` without an ``expected_response``, ``parameter_mapped_percentage``
outside ``api_signature_selector`` cases (docs/guides/server.md says so).
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.helpers import wait_for

from .helpers import body, start_job_bodies

PRODUCTS = "https://www.klarna.com/us/shopping/public/openai/v0/products"
DOC_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$")  # seed 000: 2023-08-18T16:02:55.314867
TIME_003 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")  # seed 003: 2024-07-29T15:51:28.071Z
NOT_MEASURED = frozenset({"match_score", "parameter_mapped_percentage"})
#: Seed 003's example is drawn from its schema: these fields are ``anyOf [string|integer, null]``.
NULLABLE_003 = {"session_id", "correlation_id", "parent_job_execution_id", "user_id", "error_code", "error_message",
                "attempts", "started_at", "ended_at"}
STATUSES_003 = {"PENDING", "SUCCESS", "ERROR", "PARTIAL_SUCCESS"}


#: JSON types as the text was written: ``0`` is an integer and ``0.0`` a number (unlike JSON Schema's
#: ``scoring.matching._value_type``, which calls both integers): a typed client tells them apart.
_KINDS = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"), (list, "array"), (dict, "object"))


def _kind(value: Any) -> str:
    return "null" if value is None else next(name for kind, name in _KINDS if isinstance(value, kind))


def differences(doc: Any, ours: Any, path: str = "$", nullable: frozenset[str] = frozenset()) -> list[str]:
    """Where ``ours`` breaks ``doc``'s shape: a missing field, another JSON type, another nesting.

    ``null`` in the document takes any value; an ``integer`` must stay one (a count), a ``number`` may be
    written either way; every item of a list is held against the document's first item; a field named in
    ``nullable`` may be null in ours.
    """
    if doc is None:
        return []
    name = path.rsplit(".", 1)[-1]
    if ours is None and name in nullable:
        return []
    want, got = _kind(doc), _kind(ours)
    if want != got and not (want == "number" and got == "integer"):
        return [f"{path}: the document has {want} ({doc!r:.40}), the server {got} ({ours!r:.40})"]
    if isinstance(doc, dict):
        problems = [f"{path}.{key}: missing" for key in doc if key not in ours]
        order = [key for key in ours if key in doc]
        if order != [key for key in doc if key in ours]:
            problems.append(f"{path}: the document's fields in another order: {order}")
        for key in doc:
            if key in ours:
                problems += differences(doc[key], ours[key], f"{path}.{key}", nullable)
        return problems
    if isinstance(doc, list) and doc:
        if not ours:
            return [f"{path}: empty, the document's has {len(doc)} items"]
        return [p for i, item in enumerate(ours) for p in differences(doc[0], item, f"{path}[{i}]", nullable)]
    return []


def _projected(doc: Any, ours: Any) -> Any:
    """``ours`` with only the document's fields (at every depth), to compare values."""
    if isinstance(doc, dict) and isinstance(ours, dict):
        return {key: _projected(doc[key], ours[key]) for key in doc if key in ours}
    if isinstance(doc, list) and isinstance(ours, list) and len(doc) == len(ours):
        return [_projected(d, o) for d, o in zip(doc, ours)]
    return ours


def test_the_comparison_catches_each_kind_of_difference() -> None:
    doc = {"a": 1, "b": {"c": "x", "d": [{"e": True}]}, "f": None, "g": 0.5}
    assert differences(doc, {"a": 2, "b": {"c": "y", "d": [{"e": False}]}, "f": [1], "g": 1, "extra": 0}) == []
    assert differences(doc, {"a": 1.0, "b": {"c": "x", "d": [{"e": 1}]}, "f": None, "g": "0.5"}) == [
        "$.a: the document has integer (1), the server number (1.0)",
        "$.b.d[0].e: the document has boolean (True), the server integer (1)",
        "$.g: the document has number (0.5), the server string ('0.5')"]
    assert differences(doc, {"b": {"d": {}}, "a": 1, "g": 0.5}) == [
        "$.f: missing", "$: the document's fields in another order: ['b', 'a', 'g']", "$.b.c: missing",
        "$.b.d: the document has array ([{'e': True}]), the server object ({})"]


@pytest.fixture
def shop_answers(scripted: Any) -> None:
    """Each selector of seed 000's three permutations, and the Spanish translation, answered as it expects."""
    scripted.set_script({"rules": [
        {"match": "Translate this request into", "responses": [{"text": "Muéstrame 5 camisetas de Klarna"}]},
        {"match": "Action: one of [", "responses": [{"text": "Action: Klarna Shopping"}]},  # Imprompt, step 1
        {"match": "Operations (METHOD URL", "responses": [{"text": f"GET {PRODUCTS}?q=T%20shirt&size=5"}]},
        {"match": "Question:", "responses": [{"text": 'Action: productsUsingGET\nAction Input: {"q": "T shirt", "size": 5}'}]},
        {"responses": [{"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}}]},
    ]})


@pytest.fixture
def scripted_answers(scripted: Any) -> None:
    scripted.set_script({"rules": [
        {"match": "Grade an answer", "responses": [{"text": '{"score": 1.0, "reasoning": "the same answer"}'}]},
        {"match": "capital of France", "responses": [{"text": "Paris"}]},
        {"match": "2+2", "responses": [{"text": "4"}]},
        {"responses": [{"text": "Paris"}]},
    ]})


@pytest.mark.parametrize("tab", ["curl", "python", "rest"])
def test_seed_000_start_job_response(http: httpx.Client, shop_answers: None, tab: str) -> None:
    doc = body("seed000_response.json")
    answer = http.post("/api/start-job", json=start_job_bodies()[tab])
    assert answer.status_code == 200, answer.text
    ours = answer.json()
    problems = differences(doc, ours, nullable=NOT_MEASURED)
    assert problems == [], "\n".join(problems)
    assert list(ours)[:len(doc)] == list(doc)
    assert re.fullmatch(r"klarna_plugin_test-1\.1\.0-\d{4}-\d\d-\d\d", ours["job_name"]), ours["job_name"]
    assert DOC_TIME.match(ours["started_on"]) and DOC_TIME.match(ours["completed_on"]), ours["started_on"]
    assert ours["test_plugin"] == doc["test_plugin"]
    assert _projected(doc["permutations"], ours["permutations"]) == doc["permutations"]  # the request's, echoed
    for row in ours["details"]:  # the document's summary line for each permutation
        wanted = {"permutation1": "OpenAI[default]", "permutation2": "Imprompt[default]",
                  "permutation3": "Langchain[zero-shot-react-description]"}[row["permutation_name"]]
        assert row["permutation_summary"] == f"OpenAIChat[gpt-3.5-turbo-0613] - {wanted}"
    assert {row["test_type"] for row in ours["details"]} == {"plugin_selector", "api_signature_selector"}
    assert {row["language"] for row in ours["details"]} == {"English", "Spanish"}
    assert ours["output_directory"] is None
    assert all(row["plugin_name"] == "Klarna Shopping" and row["plugin_operation"] == PRODUCTS for row in ours["details"])
    assert all(isinstance(row["parameter_mapped_percentage"], float) for row in ours["details"]
               if row["test_type"] == "api_signature_selector")


def _batch_results(http: httpx.Client, invocation_id: str) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        answer = http.post("/system/batch_execution/results/", json={"invocation_id": invocation_id})
        assert answer.status_code == 200, answer.text
        return None if answer.json()["status"] in ("pending", "running") else answer.json()

    return wait_for("the batch to finish", finished, every=0.05)  # type: ignore[no-any-return]


def test_seed_002_batch_results_response(http: httpx.Client, scripted_answers: None) -> None:
    doc = body("seed002_results_response.json")
    bodies = body("seed002_curl_bodies.json")
    started = http.post("/experience/batch_execution/execute_batch/invoke", json=bodies["execute_batch"])
    assert started.status_code == 200, started.text
    invocation = started.json()["invocationId"]
    ours = _batch_results(http, invocation)
    assert differences(doc, ours) == [] and list(ours) == list(doc)
    assert (ours["status"], ours["message"]) == (doc["status"], doc["message"])
    assert ours["invocationId"] == invocation
    assert ours["csv_content"] == doc["csv_content"]  # the document's example, to the byte
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/public/batch_execution_results/batch_execution_[\w-]+\.xlsx",
                        ours["xlsx_url"]), ours["xlsx_url"]
    processed = http.post("/system/batch_execution/process_csv/invoke", json=bodies["process_csv"])
    assert processed.status_code == 200 and processed.json()["path"].endswith(".xlsx"), processed.text
    unknown = http.post("/system/batch_execution/results", json=bodies["results"])
    assert unknown.status_code == 404 and isinstance(unknown.json()["detail"], str)


def test_seed_003_eval_executions_and_validation_error(http: httpx.Client, scripted_answers: None) -> None:
    [doc] = body("seed003_executions_example.json")
    dataset = http.post("/api/v1/pipelines/pipe-1/eval-datasets",
                        json=[{"id": "q1", "input": "What is the capital of France?", "expected_output": "Paris"}])
    assert dataset.status_code == 201, dataset.text
    path = f"/api/v1/pipelines/pipe-1/eval-datasets/{dataset.json()['id']}/execute"
    started = http.post(path, json={"eval_execution_params": {"llm_model": "GPT_4O"}})  # the document's default
    assert started.status_code == 200, started.text
    listed = wait_for("the execution to leave PENDING",
                      lambda: (now := http.get(path).json())[0]["status"] != "PENDING" and now, every=0.05)
    for ours in (started.json(), *listed):
        assert differences(doc, ours, nullable=frozenset(NULLABLE_003)) == []
        assert list(ours) == list(doc)
        assert ours["status"] in STATUSES_003 and ours["job_name"] == doc["job_name"]
        for key in ("created_at", "updated_at", "started_at", "ended_at"):
            assert ours[key] is None or TIME_003.match(ours[key]), (key, ours[key])
    assert listed[0]["status"] == "SUCCESS" and listed[0]["attempts"] == 1, listed[0]["error_message"]

    invalid = http.post(path, json={"eval_execution_params": {"llm_model": 5}})
    assert invalid.status_code == 422
    assert differences(body("seed003_validation_error_example.json"), invalid.json()) == []
