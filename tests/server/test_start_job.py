"""POST /api/start-job and the jobs around it, over real HTTP."""

from __future__ import annotations

import csv
import io
from typing import Any

import openpyxl
import pytest

import permutate_nb as pn
from tests.helpers import DEADLINE, FOREVER, klarna_request, wait_until

from .helpers import TOOL_CALL, assert_422, start_job_bodies, wait_for


@pytest.fixture
def request_body(scripted: Any) -> dict[str, Any]:
    scripted.set_script(TOOL_CALL)
    return klarna_request(base_url=scripted.base_url)


def test_start_job_waits_and_answers_the_start_job_response(http: Any, request_body: dict[str, Any]) -> None:
    response = http.post("/api/start-job", json=request_body)
    assert response.status_code == 200
    data = response.json()
    assert list(data)[:8] == ["job_name", "started_on", "completed_on", "test_plugin", "permutations", "summary",
                              "details", "output_directory"]
    assert data["status"] == "SUCCESS" and data["summary"]["overall_accuracy"] == 100.0
    assert [d["test_case_name"] for d in data["details"]] == ["shirts", "shirts_params"]
    listed = pn.jobs()  # the same store as the CLI and notebooks
    assert listed.set_index("id").loc[data["job_id"], "status"] == "SUCCESS"


def test_start_job_without_waiting_then_status_result_and_downloads(http: Any, request_body: dict[str, Any]) -> None:
    response = http.post("/api/start-job", params={"wait": "false"}, json=request_body)
    assert response.status_code == 202
    started = response.json()
    assert set(started) == {"job_id", "status", "status_url"} and started["status"] == "PENDING"
    job_id = started["job_id"]
    assert started["status_url"].endswith(f"/api/jobs/{job_id}")
    status = wait_for(http, job_id)
    assert status["status"] == "SUCCESS" and status["done"] == status["total"] == 2
    assert status["summary"]["total_test_cases"] == 2 and "request" not in status

    result = http.get(f"/api/jobs/{job_id}/result").json()
    assert result["job_id"] == job_id and result["summary"]["passed_cases"] == 2

    csv_file = http.get(f"/api/jobs/{job_id}/result", params={"format": "csv"})
    assert csv_file.headers["content-type"].startswith("text/csv")
    assert f'filename="{job_id}.csv"' in csv_file.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(csv_file.text)))
    assert [r["test_case_name"] for r in rows] == ["shirts", "shirts_params"]

    xlsx = http.get(f"/api/jobs/{job_id}/result", params={"format": "xlsx"})
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames[:3] == ["Summary", "Permutations", "Details"]
    assert_422(http.get(f"/api/jobs/{job_id}/result", params={"format": "pdf"}), ["query", "format"], "")


def test_list_jobs_with_filters(http: Any, request_body: dict[str, Any]) -> None:
    job_id = http.post("/api/start-job", json=request_body).json()["job_id"]
    assert [j["id"] for j in http.get("/api/jobs").json()] == [job_id]
    assert [j["id"] for j in http.get("/api/jobs", params={"status": "SUCCESS", "kind": "permutate"}).json()] == [job_id]
    assert http.get("/api/jobs", params={"status": "ERROR"}).json() == []
    assert http.get("/api/jobs", params={"kind": "batch"}).json() == []
    assert_422(http.get("/api/jobs", params={"status": "DONE"}), ["query", "status"], "unknown status 'DONE'")
    assert_422(http.get("/api/jobs", params={"kind": "ray"}), ["query", "kind"], "unknown kind 'ray'")


def test_unknown_job_ids_are_404(http: Any) -> None:
    for response in (http.get("/api/jobs/nope"), http.get("/api/jobs/nope/result"), http.delete("/api/jobs/nope")):
        assert response.status_code == 404
        assert "no job 'nope'" in response.json()["detail"]


def test_invalid_requests_answer_422_with_the_cli_field_paths(http: Any, request_body: dict[str, Any]) -> None:
    bad = {**request_body, "test_cases": [{**request_body["test_cases"][0], "type": "plugin_chooser"}]}
    entry = assert_422(http.post("/api/start-job", json=bad), ["body", "test_cases", 0, "type"],
                       "unknown test case type 'plugin_chooser'")
    assert entry["type"] == "value_error"
    with pytest.raises(pn.RequestError) as cli_error:  # the CLI's message, word for word
        pn.validate(bad)
    assert entry["msg"] == str(cli_error.value)

    group = {**request_body, "permutations": [{**request_body["permutations"][0],
                                                "tool_selector": {"provider": "OpenAI", "plugin_group_name": "nope"}}]}
    assert_422(http.post("/api/start-job", json=group), ["body", "permutations", 0, "tool_selector", "plugin_group_name"],
               "unknown plugin group 'nope'")
    assert_422(http.post("/api/start-job", json={"name": "x"}), ["body", "plugin_groups"], "missing required field")
    malformed = http.post("/api/start-job", content=b'{"name": ', headers={"content-type": "application/json"})
    assert_422(malformed, ["body", 9], "JSON")
    assert_422(http.post("/api/start-job", json=[1, 2]), ["body"], "dictionary")
    missing = {**request_body, "plugin_groups": [{"name": "klarna", "plugins": [
        {"manifest_url": request_body["plugin_groups"][0]["plugins"][0]["manifest_url"] + ".missing"}]}]}
    entry = assert_422(http.post("/api/start-job", json=missing), ["body"], "file not found")
    assert entry["type"] == "plugin_error"


def test_delete_cancels_and_keeps_finished_runs(http: Any, scripted: Any) -> None:
    fast = TOOL_CALL["default"]
    scripted.set_script({"default": [fast, fast, fast, {**fast, "delay": FOREVER}]})  # the 4th call never answers
    slow = klarna_request(base_url=scripted.base_url, concurrency=1, repeats=20, cache=False)
    job_id = http.post("/api/start-job", params={"wait": "false"}, json=slow).json()["job_id"]
    wait_until(lambda: http.get(f"/api/jobs/{job_id}").json()["done"] == 3 and len(scripted.requests) == 4,
               every=0.05, what="3 runs done and the 4th waiting")
    cancelled = http.delete(f"/api/jobs/{job_id}")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED"
    kept = cancelled.json()["finished_runs"]
    assert kept == 3
    result = http.get(f"/api/jobs/{job_id}/result").json()
    assert result["status"] == "CANCELLED" and len(result["details"]) == kept
    again = http.delete(f"/api/jobs/{job_id}")
    assert again.status_code == 409 and "already ended (CANCELLED)" in again.json()["detail"]


@pytest.mark.parametrize("tab", ["curl", "python", "rest"])
def test_the_documents_bodies_run_as_written(http: Any, scripted: Any, tab: str) -> None:
    """Seed 000's three bodies (curl with ``None`` read as null): accepted, run, and answered in the document's shape."""
    scripted.set_script({"rules": [{"match": "T shirts", "responses": [
        {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}}]}]})
    response = http.post("/api/start-job", params={"wait": "false"}, json=start_job_bodies()[tab])
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    assert wait_for(http, job_id)["status"] in ("SUCCESS", "PARTIAL_SUCCESS")
    result = http.get(f"/api/jobs/{job_id}/result").json()
    assert result["job_name"].startswith("klarna_plugin_test-1.1.0-") and len(result["details"]) == 12
    summaries = sorted({d["permutation_summary"].split(" - ")[1] for d in result["details"]})
    assert summaries == ["Imprompt[default]", "Langchain[zero-shot-react-description]", "OpenAI[default]"]


def _nested(items: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """The docs' other form: the fields inside ``{key: {...}}`` instead of beside ``key: null``."""
    return [{key: {k: v for k, v in item.items() if k != key}} for item in items]


@pytest.mark.parametrize("form", ["flat", "nested"])
def test_the_documents_body_runs_in_both_forms(http: Any, scripted: Any, form: str) -> None:
    """Seed 000's curl body on its OpenAI permutation, in the flat form as written and in the nested form."""
    scripted.set_script({"rules": [{"match": "T shirts", "responses": [
        {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}}]}]})
    docs = start_job_bodies()["curl"]
    docs["permutations"] = docs["permutations"][:1]
    if form == "nested":
        docs["permutations"] = _nested(docs["permutations"], "permutation")
        docs["test_cases"] = _nested(docs["test_cases"], "test_case")
    response = http.post("/api/start-job", json=docs)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["job_name"].startswith("klarna_plugin_test-1.1.0-")
    assert result["summary"]["total_test_cases"] == 4  # 2 test cases x English and Spanish
    english = [d for d in result["details"] if d["language"] == "English"]
    assert [d["passed"] for d in english] == [True, True]


def test_provider_local_runs_a_keyless_request_on_the_embedded_model(
        start_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Like ``permutate run --provider local``: a stranger's request for OpenAI, with no key, runs offline."""
    from tests.helpers import KLARNA

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    body = klarna_request(timeout_sec=5 * DEADLINE)  # the embedded model on a busy machine: a generous run deadline
    body["test_cases"] = body["test_cases"][:1]
    body["permutations"][0]["llm"]["max_tokens"] = 48
    with start_server(allow_dirs=(KLARNA.parent.resolve(),)).client(timeout=5 * DEADLINE) as http:  # waits for the job
        refused = http.post("/api/start-job", json=body)
        assert refused.status_code == 422 and "?provider=local" in refused.json()["detail"][0]["msg"]
        assert_422(http.post("/api/start-job", params={"provider": "bogus"}, json=body),
                   ["body", "permutations", 0, "llm", "provider"], "unknown provider 'bogus'")
        answer = http.post("/api/start-job", params={"provider": "local"}, json=body)
        with pn.Client(str(http.base_url), timeout=5 * DEADLINE) as client:
            again = client.run(body, provider="local", progress=False)
    assert again.permutations[0]["llm"]["provider"] == "local" and len(again.details) == 1
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["permutations"][0]["llm"]["provider"] == "local"
    assert [d["test_case_name"] for d in data["details"]] == ["shirts"] and data["status"] != "ERROR"
