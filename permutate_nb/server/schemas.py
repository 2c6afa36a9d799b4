"""The answers' shapes, for the OpenAPI document: a client generated from ``/openapi.json`` gets types.

The routes build their JSON directly (``json_response``: FastAPI's encoder is ~10x slower on a
large result), so these models document and are checked by the schema tests and the fuzzing
test (``tests/server/test_fuzz.py``); they allow extra fields, which the routes add after the
documents' own.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = [
    "CSV",
    "XLSX",
    "BatchResults",
    "ErrorBody",
    "EvalDatasetRecord",
    "EvalJobExecution",
    "ExecuteBatchResponse",
    "Health",
    "JobAccepted",
    "JobRecord",
    "JobStatus",
    "ProcessCsvResponse",
    "StartJobResponse",
    "ValidationErrorBody",
    "errors",
    "file_response",
]

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv"


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorBody(BaseModel):
    """Every error but a validation error: one line, naming no server path."""

    detail: str


class ValidationItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorBody(BaseModel):
    """422: one entry per refused field, ``loc`` its path in the body."""

    detail: list[ValidationItem]


class Health(BaseModel):
    """``/health``: the server is up; its version and how many jobs it is running."""
    status: str
    version: str
    running_jobs: int


class StartJobResponse(_Open):
    """Seed 000's start-job response; ``status``, ``planned_runs``, ``summary_by_*`` and ``job_id`` follow it."""

    job_name: str
    started_on: str  # 2023-08-18T16:02:55.314867, UTC
    completed_on: str
    test_plugin: dict[str, Any] | None
    permutations: list[dict[str, Any]]
    summary: dict[str, Any]
    details: list[dict[str, Any]] | None
    output_directory: str | None
    status: str
    planned_runs: int
    job_id: str | None


class JobAccepted(BaseModel):
    """202 from start-job with ``?wait=false``: the job is recorded; poll ``status_url`` until it ends."""
    job_id: str
    status: str
    status_url: str


class JobRecord(_Open):
    """A stored job as ``GET /api/jobs`` lists it (the CLI's, notebooks' and servers' alike) and a cancel answers it."""
    id: str
    kind: str
    name: str
    status: str
    attempts: int
    planned_runs: int
    finished_runs: int
    created_at: str
    started_at: str | None
    ended_at: str | None
    error_code: str | None
    error_message: str | None


class JobStatus(JobRecord):
    """A job's status poll: its record, runs done of total, live counts per group and the summary so far."""
    job_id: str
    done: int
    total: int
    progress: dict[str, Any] | None
    summary: dict[str, Any] | None
    result_url: str


class ProcessCsvResponse(BaseModel):
    """A checked batch CSV: nothing ran; ``xlsx_url`` downloads the rows as an XLSX with empty result columns."""
    status: str
    message: str
    file_name: str
    path: str
    xlsx_url: str


class ExecuteBatchResponse(BaseModel):
    """A started batch: poll ``POST /system/batch_execution/results`` with its invocation id."""
    status: str
    invocationId: str
    invocation_id: str
    message: str


class BatchResults(BaseModel):
    """Seed 002's results: ``csv_content`` has ``prompt,model,result``; a failed row's result is ``ERROR: ...``."""

    status: str
    invocationId: str
    message: str
    xlsx_url: str | None
    csv_content: str | None


class EvalDatasetRecord(_Open):
    """An uploaded eval dataset: its id under the pipeline, its version and how many cases it has."""
    id: str
    pipeline_id: str
    name: str
    created_at: str
    version: str
    cases: int


class EvalJobExecution(BaseModel):
    """Seed 003's job execution object; ``data.outputs`` are seed 004's test-case outputs."""

    job_name: str
    partitions: dict[str, Any]
    parameters: dict[str, Any]
    session_id: str | None
    correlation_id: str | None
    parent_job_execution_id: str | None
    user_id: str | None
    created_at: str
    id: str
    status: str
    error_code: str | None
    error_message: str | None
    attempts: int
    started_at: str | None
    ended_at: str | None
    updated_at: str | None
    data: dict[str, Any]


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for the error answers a route gives (401, 404, 409, 413, 422, 500)."""
    text = {401: "missing or wrong API key", 404: "unknown id", 409: "the job already ended, or runs elsewhere",
            413: "the body is over --max-body-mb", 422: "a refused field", 500: "an unexpected failure (one line)"}
    return {code: {"model": ValidationErrorBody if code == 422 else ErrorBody, "description": text[code]}
            for code in codes}


def file_response(*media: str) -> dict[str, Any]:
    """A download's 200: the file's media types, as binary."""
    return {"description": "the file", "content": {m: {"schema": {"type": "string", "format": "binary"}} for m in media}}
