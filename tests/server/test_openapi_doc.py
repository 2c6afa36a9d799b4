"""The OpenAPI document is typed: each endpoint's answer, the key's three security schemes, the XLSX type."""

from __future__ import annotations

from typing import Any

import httpx

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _ref(doc: dict[str, Any], path: str, method: str, code: str) -> str:
    schema = doc["paths"][path][method]["responses"][code]["content"]["application/json"]["schema"]
    return schema.get("$ref") or schema["items"]["$ref"]


def test_every_answer_has_its_model_and_the_key_its_schemes(http: httpx.Client) -> None:
    doc = http.get("/openapi.json").json()
    models = {
        ("/api/start-job", "post", "200"): "StartJobResponse", ("/api/start-job", "post", "202"): "JobAccepted",
        ("/api/jobs/{job_id}", "get", "200"): "JobStatus", ("/api/jobs", "get", "200"): "JobRecord",
        ("/system/batch_execution/results", "post", "200"): "BatchResults",
        ("/system/batch_execution/process_csv/invoke", "post", "200"): "ProcessCsvResponse",
        ("/experience/batch_execution/execute_batch/invoke", "post", "200"): "ExecuteBatchResponse",
        ("/api/v1/pipelines/{pipeline_id}/eval-datasets/{eval_dataset_id}/execute", "post", "200"): "EvalJobExecution",
        ("/api/v1/pipelines/{pipeline_id}/eval-datasets", "post", "201"): "EvalDatasetRecord",
        ("/api/jobs/{job_id}", "get", "404"): "ErrorBody", ("/api/start-job", "post", "422"): "ValidationErrorBody",
    }
    for (path, method, code), name in models.items():
        assert _ref(doc, path, method, code) == f"#/components/schemas/{name}", (path, code)
    schemes = doc["components"]["securitySchemes"]
    assert {(s.get("in"), s.get("name"), s.get("scheme")) for s in schemes.values()} == {
        ("header", "Integrations-API-Key", None), ("header", "x-api-key", None), (None, None, "bearer")}
    assert doc["security"] == [{name: []} for name in schemes]
    assert doc["paths"]["/health"]["get"]["security"] == []
    download = doc["paths"]["/public/batch_execution_results/{file_name}"]["get"]["responses"]["200"]["content"]
    assert download[XLSX]["schema"] == {"type": "string", "format": "binary"}
    assert XLSX in doc["paths"]["/api/jobs/{job_id}/result"]["get"]["responses"]["200"]["content"]


def test_errors_other_than_422_are_one_detail_line(http: httpx.Client) -> None:
    for answer in (http.get("/api/jobs/nope"), http.get("/api/jobs/nope/result"), http.delete("/api/jobs/nope"),
                   http.post("/system/batch_execution/results", json={"invocation_id": "nope"}),
                   http.get("/public/batch_execution_results/nope.xlsx"),
                   http.get("/api/v1/pipelines/p/eval-datasets/nope/execute")):
        assert answer.status_code == 404, answer.request.url
        body = answer.json()
        assert list(body) == ["detail"] and isinstance(body["detail"], str) and "sqlite" not in body["detail"]
