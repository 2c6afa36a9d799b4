"""Batch executions (seed 002) over HTTP: the document's paths, bodies, limits and result shape."""

from __future__ import annotations

import io
import time
from typing import Any

import openpyxl
import pytest

from tests.helpers import DEADLINE

from .helpers import assert_422, body


@pytest.fixture
def answers(scripted: Any) -> None:
    scripted.set_script({"rules": [{"match": "capital of France", "responses": [{"text": "Paris"}]},
                                   {"match": "2+2", "responses": [{"text": "4"}]},
                                   {"match": "population of Paris", "responses": [{"text": "2.1 million"}]}]})


def _results(http: Any, invocation_id: str, path: str = "/system/batch_execution/results") -> dict[str, Any]:
    deadline = time.monotonic() + DEADLINE
    while True:
        answer = http.post(path, json={"invocation_id": invocation_id})
        assert answer.status_code == 200, answer.text
        data = answer.json()
        if data["status"] not in ("pending", "running"):
            return data
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_the_documents_batch_runs_as_written(http: Any, answers: None, scripted: Any) -> None:
    started = http.post("/experience/batch_execution/execute_batch/invoke", json=body("seed002_curl_bodies.json")["execute_batch"])
    assert started.status_code == 200
    invocation = started.json()["invocationId"]
    result = _results(http, invocation, "/system/batch_execution/results/")  # the document's curl has the slash
    assert list(result) == ["status", "invocationId", "message", "xlsx_url", "csv_content"]
    assert result["status"] == "completed" and result["invocationId"] == invocation
    assert result["message"] == "Execution completed successfully."
    assert result["csv_content"] == ("prompt,model,result\nWhat is the capital of France?,Granite 13B V2.1,Paris\n"
                                     "What is 2+2?,Llama3 8B Instruct,4")  # the document's example, to the byte
    assert result["xlsx_url"] == f"{http.base_url}/public/batch_execution_results/batch_execution_{invocation}.xlsx"
    sent = [r["json"]["model"] for r in scripted.requests]
    assert sorted(sent) == ["Granite 13B V2.1", "Llama3 8B Instruct"]
    download = http.get(result["xlsx_url"])
    assert download.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(download.content))["Results"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("row", "prompt", "model", "result", "status") and rows[1][3] == "Paris"
    jobs = http.get("/api/jobs", params={"kind": "batch"}).json()
    assert [j["id"] for j in jobs] == [invocation]


def test_output_chaining(http: Any, answers: None) -> None:
    started = http.post("/experience/batch_execution/execute_batch/invoke",
                        json=body("seed002_curl_bodies.json")["execute_batch_chained"])
    result = _results(http, started.json()["invocation_id"])
    assert result["csv_content"].splitlines()[2] == "What is the population of Paris?,Llama3 8B Instruct,2.1 million"


def test_process_csv_writes_an_xlsx_with_empty_result_columns(http: Any, scripted: Any) -> None:
    answer = http.post("/system/batch_execution/process_csv/invoke", json=body("seed002_curl_bodies.json")["process_csv"])
    assert answer.status_code == 200
    data = answer.json()
    assert data["path"] == f"public/batch_execution_results/{data['file_name']}"
    sheet = openpyxl.load_workbook(io.BytesIO(http.get(data["xlsx_url"]).content))["Results"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][1:4] == ("What is the capital of France?", "Granite 13B V2.1", None) and len(rows) == 3
    assert scripted.requests == []  # nothing ran


def test_limits_and_bad_bodies(http: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    execute = "/experience/batch_execution/execute_batch/invoke"
    monkeypatch.setenv("MAX_EXECUTIONS_PER_BATCH", "2")
    monkeypatch.setenv("MAX_PROMPT_LENGTH", "20")
    three = {"executions": [{"prompt": "a", "model": "m"}] * 3}
    assert_422(http.post(execute, json=three), ["body", "executions"], "MAX_EXECUTIONS_PER_BATCH is 2")
    long = {"executions": [{"prompt": "short", "model": "m"}, {"prompt": "x" * 21, "model": "m"}]}
    assert_422(http.post(execute, json=long), ["body", "executions", 1], "row 2: the prompt has 21 characters")
    forward = {"executions": [{"prompt": "${output.2}", "model": "m"}, {"prompt": "b", "model": "m"}]}
    assert_422(http.post(execute, json=forward), ["body", "executions", 0], "refers to a later row")
    assert_422(http.post(execute, json={"executions": []}), ["body", "executions"], "at least 1")
    assert_422(http.post(execute, json={"executions": [{"model": "m"}]}), ["body", "executions", 0, "prompt"], "Field required")
    assert_422(http.post("/system/batch_execution/process_csv/invoke", json={"csv_content": "prompt,model\n,m\n"}),
               ["body", "csv_content"], "row 1: prompt is empty")
    assert_422(http.post("/system/batch_execution/process_csv/invoke", json={"csv_content": "/etc/passwd"}),
               ["body", "csv_content"], "the batch has no rows")  # one line is CSV text, never a path on the server
    unknown = http.post("/system/batch_execution/results", json=body("seed002_curl_bodies.json")["results"])
    assert unknown.status_code == 404 and "your-invocation-id" in unknown.json()["detail"]
    assert http.get("/public/batch_execution_results/..%2F..%2Fjobs.sqlite").status_code == 404
    assert http.get("/public/batch_execution_results/batch_execution_nope.xlsx").status_code == 404


def test_a_failed_batch_says_so(http: Any, scripted: Any) -> None:
    scripted.set_script({"default": {"status": 400}})
    started = http.post("/experience/batch_execution/execute_batch/invoke", json={"executions": [{"prompt": "hi", "model": "m"}]})
    result = _results(http, started.json()["invocationId"])
    assert result["status"] == "failed" and "400" in result["message"]
    header, row = result["csv_content"].split("\n")
    assert header == "prompt,model,result" and row.startswith("hi,m,ERROR: ") and "400" in row  # marked, not empty


def test_max_prompt_length_holds_after_output_substitution(http: Any, scripted: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_PROMPT_LENGTH", "20")
    scripted.set_script({"default": {"text": "a long answer of thirty chars"}})
    started = http.post("/experience/batch_execution/execute_batch/invoke",
                        json={"executions": [{"prompt": "first", "model": "m"}, {"prompt": "${output.1}", "model": "m"}]})
    result = _results(http, started.json()["invocationId"])
    assert result["status"] == "completed" and "1 of 2 executions failed" in result["message"]
    last = result["csv_content"].split("\n")[2]
    assert "ERROR: the prompt has 29 characters after ${output.n} substitution; MAX_PROMPT_LENGTH is 20" in last
    assert len(scripted.requests) == 1  # the long prompt never went to the model


def test_batches_beyond_max_concurrent_batches_wait_and_all_finish(http: Any, answers: None,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_CONCURRENT_BATCHES", "2")
    execute = "/experience/batch_execution/execute_batch/invoke"
    ids = [http.post(execute, json={"executions": [{"prompt": f"What is 2+2? ({i})", "model": "m"}]}).json()["invocationId"]
           for i in range(12)]
    assert all(_results(http, invocation)["status"] == "completed" for invocation in ids)
    assert http.get("/health").json()["running_jobs"] == 0
