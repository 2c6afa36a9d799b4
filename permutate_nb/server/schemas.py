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


class _Documented(BaseModel):
    """The fields' docstrings below become their descriptions in ``/openapi.json`` and the docs' HTTP API page."""

    model_config = ConfigDict(use_attribute_docstrings=True)


class _Open(_Documented):
    model_config = ConfigDict(extra="allow")  # merged with the parent's


class ErrorBody(_Documented):
    """Every error but a validation error: one line, naming no server path."""

    detail: str
    """What went wrong, in one line."""


class ValidationItem(_Documented):
    """One refused field of a 422 answer."""

    loc: list[str | int]
    """The refused field's path: where it came from (``body``, ``query``, ...), then its keys and 0-based indexes."""
    msg: str
    """Why it was refused, in the CLI's words."""
    type: str
    """The kind of refusal: ``value_error``, ``plugin_error``, ``configuration_error``, or FastAPI's own."""


class ValidationErrorBody(_Documented):
    """422: one entry per refused field, ``loc`` its path in the body."""

    detail: list[ValidationItem]
    """One entry per refused field."""


class Health(_Documented):
    """``/health``: the server is up; its version and how many jobs it is running."""

    status: str
    """Always ``ok``: an answer at all means the server is up."""
    version: str
    """The permutate_nb version the server runs."""
    running_jobs: int
    """Jobs this server is running now (started, resumed, not yet ended)."""


class StartJobResponse(_Open):
    """Seed 000's start-job response; ``status``, ``planned_runs``, ``summary_by_*`` and ``job_id`` follow it."""

    job_name: str
    """``{name}-{version}-{date}``, as the start-job response names it."""
    started_on: str  # 2023-08-18T16:02:55.314867, UTC
    """When the job started (ISO 8601, UTC)."""
    completed_on: str
    """When it ended."""
    test_plugin: dict[str, Any] | None
    """The request's ``test_plugin``, if any."""
    permutations: list[dict[str, Any]]
    """One entry per permutation: its name, summary, model and selector."""
    summary: dict[str, Any]
    """The whole job's figures: accuracy, wrong and errored runs, times, tokens and cost."""
    details: list[dict[str, Any]] | None
    """One row per run, in matrix order."""
    output_directory: str | None
    """The start-job document's field; None unless a face sets it."""
    status: str
    """The job store's status: SUCCESS, PARTIAL_SUCCESS, ERROR or CANCELLED."""
    planned_runs: int
    """Runs the matrix has (finished or not)."""
    job_id: str | None
    """The job's id: ``/api/jobs/{job_id}`` has its status, result and report."""


class JobAccepted(_Documented):
    """202 from start-job with ``?wait=false``: the job is recorded; poll ``status_url`` until it ends."""

    job_id: str
    """The job's id in the job store."""
    status: str
    """``PENDING``: the job is recorded and about to start."""
    status_url: str
    """The job's status endpoint, ``/api/jobs/{job_id}``, to poll."""


class JobRecord(_Open):
    """A stored job as ``GET /api/jobs`` lists it (the CLI's, notebooks' and servers' alike) and a cancel answers it."""

    id: str
    """The job's id in the job store."""
    kind: str
    """``permutate``, ``batch``, ``eval``, ``generate`` or ``bfcl``."""
    name: str
    """The job's name, as ``permutate jobs`` lists it."""
    status: str
    """PENDING, RUNNING, SUCCESS, PARTIAL_SUCCESS, ERROR, CANCELLED or INTERRUPTED."""
    attempts: int
    """How many times the job has started running (0 while pending, one more per resume)."""
    planned_runs: int
    """Runs the job has in all (finished or not)."""
    finished_runs: int
    """Runs with a stored result so far."""
    created_at: str
    """When the job was recorded (ISO 8601, UTC)."""
    started_at: str | None
    """When it first started; None while pending."""
    ended_at: str | None
    """When it ended; None while under way."""
    error_code: str | None
    """Why the job failed or stopped, as a short code; None when it has none."""
    error_message: str | None
    """The one-line message that goes with ``error_code``; None when it has none."""


class JobStatus(JobRecord):
    """A job's status poll: its record, runs done of total, live counts per group and the summary so far."""

    job_id: str
    """The job's id (the same as ``id``)."""
    done: int
    """Runs finished so far (live while this server runs the job)."""
    total: int
    """Runs the job has in all."""
    progress: dict[str, Any] | None
    """Counts (done, passed, failed, errored) in all and per group; None when this server holds none for the job."""
    summary: dict[str, Any] | None
    """The summary so far (a running permutate job's) or the stored one; None when there is none yet."""
    result_url: str
    """The job's result endpoint, ``/api/jobs/{job_id}/result``."""


class ProcessCsvResponse(_Documented):
    """A checked batch CSV: nothing ran; ``xlsx_url`` downloads the rows as an XLSX with empty result columns."""

    status: str
    """Always ``completed``: the CSV was checked."""
    message: str
    """How many executions were checked (none was run)."""
    file_name: str
    """The XLSX's file name."""
    path: str
    """The XLSX's path under the server's URL: ``public/batch_execution_results/{file_name}``."""
    xlsx_url: str
    """Where to download the XLSX."""


class ExecuteBatchResponse(_Documented):
    """A started batch: poll ``POST /system/batch_execution/results`` with its invocation id."""

    status: str
    """Always ``pending``: the batch is recorded and about to start."""
    invocationId: str
    """The batch's id (the job's id), to ask for its results."""
    invocation_id: str
    """The same id, under the name the results endpoint takes."""
    message: str
    """What to do next, in one line."""


class BatchResults(_Documented):
    """Seed 002's results: ``csv_content`` has ``prompt,model,result``; a failed row's result is ``ERROR: ...``."""

    status: str
    """``pending``, ``running``, ``completed``, ``failed``, ``cancelled`` or ``interrupted``."""
    invocationId: str
    """The batch's id."""
    message: str
    """How far it got, or how it ended, in one line."""
    xlsx_url: str | None
    """Where to download the batch's XLSX; None until the batch ends."""
    csv_content: str | None
    """The batch's rows as CSV text (``prompt,model,result``); None until the batch ends."""


class EvalDatasetRecord(_Open):
    """An uploaded eval dataset: its id under the pipeline, its version and how many cases it has."""

    id: str
    """The dataset's id, for its ``/execute`` endpoint."""
    pipeline_id: str
    """The pipeline it was uploaded under."""
    name: str
    """The dataset's name."""
    created_at: str
    """When it was uploaded (ISO 8601, UTC)."""
    version: str
    """The dataset's version."""
    cases: int
    """How many cases it has."""


class EvalJobExecution(_Documented):
    """Seed 003's job execution object; ``data.outputs`` are seed 004's test-case outputs."""

    job_name: str
    """Always ``eval_dataset_job``."""
    partitions: dict[str, Any]
    """The ``pipeline_id`` and ``eval_dataset_id`` the execution ran on."""
    parameters: dict[str, Any]
    """The execute request's body: the execution parameters and the cases asked for."""
    session_id: str | None
    """The request's ``x-session-id`` header, if any."""
    correlation_id: str | None
    """The request's ``x-correlation-id`` header, if any."""
    parent_job_execution_id: str | None
    """Always None: an execution has no parent here."""
    user_id: str | None
    """The request's ``x-user-id`` header, if any."""
    created_at: str
    """When the execution was recorded (ISO 8601, UTC)."""
    id: str
    """The execution's id (its job's id in the job store)."""
    status: str
    """In the document's words: PENDING (also running or interrupted), SUCCESS, PARTIAL_SUCCESS or ERROR."""
    error_code: str | None
    """Why it failed (``CANCELLED`` for a cancelled execution); None otherwise."""
    error_message: str | None
    """The failure's one-line message; None otherwise."""
    attempts: int
    """How many times the job has started running (0 while pending, one more per resume)."""
    started_at: str | None
    """When it first started; None while pending."""
    ended_at: str | None
    """When it ended; None while under way."""
    updated_at: str | None
    """When its record last changed."""
    data: dict[str, Any]
    """``job_status`` (the job store's), ``planned`` (outputs in all) and ``outputs`` so far."""


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for the error answers a route gives (401, 404, 409, 413, 422, 500)."""
    text = {401: "missing or wrong API key", 404: "unknown id", 409: "the job already ended, or runs elsewhere",
            413: "the body is over --max-body-mb", 422: "a refused field", 500: "an unexpected failure (one line)"}
    return {code: {"model": ValidationErrorBody if code == 422 else ErrorBody, "description": text[code]}
            for code in codes}


def file_response(*media: str) -> dict[str, Any]:
    """A download's 200: the file's media types, as binary."""
    return {"description": "the file", "content": {m: {"schema": {"type": "string", "format": "binary"}} for m in media}}
