"""Eval-dataset executions (seed 003) over HTTP: upload, execute, list in the document's schema."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.helpers import DEADLINE

from .helpers import assert_422, body

JUDGE = "Grade an answer"
CASES = [
    {"id": "q1", "input": "What is the capital of France?", "expected_output": "Paris",
     "context": [{"text": "Paris is the capital of France.", "metadata": {"source": "atlas"}}]},
    {"id": "q2", "input": "Who wrote Hamlet?", "expected_output": "William Shakespeare"},
]
#: The document's job execution object, key for key, in its order.
EXECUTION_KEYS = ["job_name", "partitions", "parameters", "session_id", "correlation_id", "parent_job_execution_id",
                  "user_id", "created_at", "id", "status", "error_code", "error_message", "attempts", "started_at",
                  "ended_at", "updated_at", "data"]


@pytest.fixture
def answers(scripted: Any) -> None:
    scripted.set_script({"rules": [
        {"match": JUDGE, "responses": [{"text": '{"score": 0.8, "reasoning": "close to the reference"}'}]},
        {"match": "capital", "responses": [{"text": "Paris"}]},
        {"match": "Hamlet", "responses": [{"text": "Shakespeare"}]},
    ]})


def _upload(http: Any, pipeline: str = "pipe-1", **kwargs: Any) -> dict[str, Any]:
    answer = http.post(f"/api/v1/pipelines/{pipeline}/eval-datasets", **kwargs)
    assert answer.status_code == 201, answer.text
    return answer.json()


def _listed(http: Any, path: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + DEADLINE
    while True:
        executions = http.get(path).json()
        if all(e["status"] != "PENDING" for e in executions):
            return executions
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_upload_execute_and_list(http: Any, answers: None, scripted: Any) -> None:
    dataset = _upload(http, json=CASES)
    assert dataset["pipeline_id"] == "pipe-1" and dataset["cases"] == 2 and len(dataset["version"]) == 12
    path = f"/api/v1/pipelines/pipe-1/eval-datasets/{dataset['id']}/execute"
    params = {"eval_execution_params": {"llm_model": "GPT_4O_MINI", "metrics": ["answer-correctness", "exact-match"]}}
    started = http.post(path, json=params, headers={"x-correlation-id": "corr-7"})
    assert started.status_code == 200, started.text
    execution = started.json()
    assert list(execution) == EXECUTION_KEYS
    assert execution["job_name"] == "eval_dataset_job" and execution["status"] == "PENDING"
    assert execution["partitions"] == {"pipeline_id": "pipe-1", "eval_dataset_id": dataset["id"]}
    assert execution["parameters"] == params and execution["correlation_id"] == "corr-7"

    [done] = _listed(http, path)
    assert list(done) == EXECUTION_KEYS
    assert done["id"] == execution["id"] and done["status"] == "SUCCESS" and done["attempts"] == 1
    assert done["started_at"] and done["ended_at"] and done["error_code"] is None
    outputs = done["data"]["outputs"]
    assert [o["test_case_id"] for o in outputs] == ["q1", "q2"]
    assert outputs[0]["output"]["generation_output"] == "Paris" and outputs[0]["model"] == "gpt-4o-mini"
    scores = {s["metric_type"]: s["score"] for s in outputs[0]["metric_scores"]}
    assert scores == {"answer-correctness": 0.8, "exact-match": 1.0}
    assert {r["json"]["model"] for r in scripted.requests} == {"gpt-4o-mini"}  # the judge defaults to the model
    jobs = http.get("/api/jobs", params={"kind": "eval"}).json()
    assert [j["id"] for j in jobs] == [execution["id"]]
    result = http.get(f"/api/jobs/{execution['id']}/result").json()
    assert result["status"] == "SUCCESS" and len(result["outputs"]) == 2


def test_csv_upload_template_and_question_subset(http: Any, answers: None, scripted: Any) -> None:
    dataset = _upload(http, content="id,input,expected_output\nq1,What is the capital of France?,Paris\n"
                                    "q2,Who wrote Hamlet?,William Shakespeare\n", headers={"content-type": "text/csv"})
    path = f"/api/v1/pipelines/pipe-1/eval-datasets/{dataset['id']}/execute"
    template = "Answer briefly.\n{context_str}\nQ: {query_str}"
    http.post(path, json={"eval_question_ids": ["q2"], "eval_execution_params": {
        "llm_model": "gpt-4o-mini", "question_answering_template": template, "metrics": ["token-f1"]}})
    [done] = _listed(http, path)
    assert [o["test_case_id"] for o in done["data"]["outputs"]] == ["q2"]
    assert scripted.requests[0]["json"]["messages"][0]["content"] == "Answer briefly.\n\nQ: Who wrote Hamlet?"


def test_bad_input_and_unknown_ids(http: Any, answers: None) -> None:
    base = "/api/v1/pipelines/pipe-1/eval-datasets"
    assert_422(http.post(base, json=[{"id": "a", "input": "x"}, {"id": "b"}]), ["body", 1], "case 2: input is missing")
    assert_422(http.post(base, json={"name": "n", "cases": [{"input": ""}]}), ["body", "cases", 0], "case 1: input")
    assert_422(http.post(base, content="{nope", headers={"content-type": "application/json"}), ["body"], "not JSON")
    dataset = _upload(http, json=CASES)
    path = f"{base}/{dataset['id']}/execute"
    assert_422(http.post(path, json={}), ["body", "eval_execution_params"], "Field required")
    assert_422(http.post(path, json={"eval_execution_params": {"llm_model": "m", "metrics": ["vibes"]}}),
               ["body", "eval_execution_params", "metrics"], "unknown metric 'vibes'")
    assert_422(http.post(path, json={"eval_execution_params": {"llm_model": "m", "question_answering_template": "{x}"}}),
               ["body", "eval_execution_params", "question_answering_template"], "{query_str}")
    assert_422(http.post(path, json={"eval_question_ids": ["q9"], "eval_execution_params": {"llm_model": "m"}}),
               ["body", "eval_question_ids", 0], "no case 'q9'")
    for response in (http.post(f"{base}/nope/execute", json={"eval_execution_params": {"llm_model": "m"}}),
                     http.get(f"{base}/nope/execute"), http.get(f"/api/v1/pipelines/other/eval-datasets/{dataset['id']}/execute")):
        assert response.status_code == 404 and "no eval dataset" in response.json()["detail"]



def _seed004() -> dict[str, Any]:
    """Seed 004's example test-case output, as the document prints it."""
    return body("seed004_test_case_output.json")  # type: ignore[no-any-return]


def test_eval_outputs_have_seed_004s_test_case_output_shape(http: Any, answers: None) -> None:
    seed = _seed004()
    dataset = _upload(http, json=CASES)
    path = f"/api/v1/pipelines/pipe-1/eval-datasets/{dataset['id']}/execute"
    http.post(path, json={"eval_execution_params": {"llm_model": "GPT_4O_MINI",
                                                    "metrics": ["answer-correctness", "exact-match"]}})
    [done] = _listed(http, path)
    output = done["data"]["outputs"][0]
    assert list(output)[:len(seed)] == list(seed)  # every field of the document, in its order; ours after
    assert output["evaluation_dataset_id"] == dataset["id"]  # the dataset's id, not its name
    assert output["account_id"] is None and output["application_variant_id"] is None
    interaction = output["interaction"]
    assert list(interaction) == list(seed["interaction"])
    assert output["application_interaction_id"] == interaction["id"]
    assert set(seed["test_case_version"]) <= set(output["test_case_version"])
    spans = interaction["trace_spans"]
    root = spans[0]
    assert root["operation_type"] == "COMPLETION" and root["parent_id"] is None and root["node_id"] == "completion"
    for span in spans[1:]:
        assert span["parent_id"] == root["id"] and span["node_id"].startswith("evaluation:")
    for span in spans:
        assert set(seed["interaction"]["trace_spans"][0]) <= set(span)
        assert span["trace_id"] == interaction["id"] == span["application_interaction_id"]
    assert output["metrics"] == {"answer-correctness": 0.8, "exact-match": 1.0}
    assert output["custom_metric_types"] == ["exact-match"]  # not in the document's list: named in the extension
    assert set(seed["metric_scores"][0]["llm_metadata"]) <= set(output["metric_scores"][0]["llm_metadata"])
