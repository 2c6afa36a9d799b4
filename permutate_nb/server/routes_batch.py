"""Batch executions (seed 002), with the paths, bodies and result shape of the document.

The same limits as the CLI apply (``MAX_EXECUTIONS_PER_BATCH``, ``MAX_PROMPT_LENGTH``,
``MAX_CONCURRENT_BATCHES``, ``EXECUTION_TIMEOUT``, ``DEFAULT_MAX_THREADS``,
``ASSISTANTS_DEFAULT_MODEL_ID_OR_NAME``, from the environment or ``.env`` in the server's
working directory). The invocation id is the job id in the store. XLSX files are written to
``$PERMUTATE_HOME/public/batch_execution_results/``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import tempfile
import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from ..core.api import run_planned
from ..core.jobs.batch import plan_batch
from ..core.jobs.batch_result import batch_frame
from ..core.jobs.kinds import job_for
from ..core.jobs.runner import create_record
from ..core.request.safe_load import read_csv
from ..core.status import JobStatus
from ..errors import UnknownJobError
from ..export import process_csv, write_frame
from .context import ServerContext, context, json_response
from .errors import not_found
from .schemas import XLSX, BatchResults, ExecuteBatchResponse, ProcessCsvResponse, errors, file_response
from .strict_json import StrictRoute

__all__ = ["router"]

router = APIRouter(tags=["batch executions"], route_class=StrictRoute)
_FILE_NAME = re.compile(r"^[A-Za-z0-9_-]+\.xlsx$")
#: the batch document's status words for ours
_STATUS = {JobStatus.PENDING: "pending", JobStatus.RUNNING: "running", JobStatus.SUCCESS: "completed",
           JobStatus.PARTIAL_SUCCESS: "completed", JobStatus.ERROR: "failed", JobStatus.CANCELLED: "cancelled",
           JobStatus.INTERRUPTED: "interrupted"}
_UNDER_WAY = (JobStatus.PENDING, JobStatus.RUNNING)


class ProcessCsvBody(BaseModel):
    csv_content: str = Field(examples=["prompt,model\nWhat is the capital of France?,Granite 13B V2.1"])


class Execution(BaseModel):
    model_config = ConfigDict(extra="allow", allow_inf_nan=False)  # other columns are carried through to the results
    prompt: str
    model: str | None = None


class ExecuteBatchBody(BaseModel):
    executions: list[Execution] = Field(min_length=1)


class ResultsBody(BaseModel):
    invocation_id: str


def _csv_records(text: str) -> list[dict[str, Any]]:
    """CSV text to rows here, so a one-line body can never be taken for a path on the server; a CR in an
    unquoted field, a field over csv's limit or a repeated column is a 422 naming ``csv_content``."""
    return read_csv(text.lstrip("\ufeff"), "csv_content")


def _file_url(request: Request, name: str) -> str:
    return str(request.url_for("batch_file", file_name=name))


@router.post("/system/batch_execution/process_csv/invoke", summary="Check a CSV; an XLSX with empty result columns",
             responses={200: {"model": ProcessCsvResponse}, **errors(401, 413, 422, 500)})
async def process_csv_invoke(request: Request, body: ProcessCsvBody) -> Response:
    ctx = context(request)
    request.state.row_loc = ("csv_content",)
    name = f"batch_input_{uuid.uuid4().hex}.xlsx"
    records = _csv_records(body.csv_content)
    path = await asyncio.to_thread(process_csv, records, ctx.public_dir / name)
    rows = len(records)
    return json_response({"status": "completed", "message": f"{rows} executions checked; nothing was run.",
                          "file_name": path.name, "path": f"public/batch_execution_results/{path.name}",
                          "xlsx_url": _file_url(request, path.name)})


@router.post("/experience/batch_execution/execute_batch/invoke", summary="Start a batch; answers its invocation id",
             responses={200: {"model": ExecuteBatchResponse}, **errors(401, 413, 422, 500)})
async def execute_batch(request: Request, body: ExecuteBatchBody) -> Response:
    ctx = context(request)
    request.state.row_loc = ("executions", "#")
    rows = [execution.model_dump() for execution in body.executions]
    plan = await asyncio.to_thread(plan_batch, rows, name="batch_execution")
    job_id = create_record(job_for(plan), ctx.store)
    ctx.manager.launch(job_id, "batch", lambda progress: run_planned(plan, store=ctx.store, job_id=job_id,
                                                                      reporter=progress, executor=ctx.executor()))
    return json_response({"status": "pending", "invocationId": job_id, "invocation_id": job_id,
                          "message": "Execution started; POST /system/batch_execution/results with this invocation_id."})


def _batch_job(ctx: ServerContext, invocation_id: str) -> dict[str, Any]:
    job = ctx.store.job(invocation_id)
    if job["kind"] != "batch":
        raise UnknownJobError(f"no batch execution {invocation_id!r}")
    return job


def _finished_files(ctx: ServerContext, job_id: str) -> tuple[str, str]:
    """The XLSX and the CSV text (prompt, model, result) of a finished batch. The XLSX at its public
    URL is rewritten whenever the job has changed since it was written (a resume, a finish)."""
    job = ctx.store.job(job_id)
    rows = ctx.store.runs(job_id)
    frame = batch_frame([rows[i] for i in sorted(rows)])
    name = f"batch_execution_{job_id}.xlsx"
    path = ctx.public_dir / name
    stamp = ctx.public_dir / f".{name}.stamp"
    state = json.dumps([job["status"], job["finished_runs"], len(rows), job.get("ended_at"), job.get("attempts")],
                       default=str)
    written = stamp.read_text("utf-8") if stamp.is_file() else None
    if not path.is_file() or written != state:
        with tempfile.NamedTemporaryFile(dir=ctx.public_dir, prefix=".tmp-", suffix=".xlsx", delete=False) as tmp:
            pass
        write_frame(frame, tmp.name)
        os.replace(tmp.name, path)  # a download in progress keeps the old file; the next one gets the new
        stamp.write_text(state, "utf-8")
    shown = frame.reindex(columns=["prompt", "model", "result"])
    if "status" in frame:  # a failed row's result is its error, marked as such (an empty cell says nothing)
        failed = frame["status"] != "completed"
        errors = frame.get("error", frame["status"]).fillna(frame["status"])
        shown.loc[failed, "result"] = "ERROR: " + errors[failed].astype(str)
    with tempfile.TemporaryDirectory() as folder:  # the export's formula-safe CSV writer
        text = write_frame(shown, Path(folder) / "r.csv").read_text("utf-8")
    return name, text.replace("\r\n", "\n").rstrip("\n")


async def _results(request: Request, body: ResultsBody) -> Response:
    ctx = context(request)
    job = _batch_job(ctx, body.invocation_id)
    status = _STATUS.get(job["status"], job["status"].lower())
    out: dict[str, Any] = {"status": status, "invocationId": job["id"], "message": "", "xlsx_url": None,
                           "csv_content": None}
    if job["status"] in _UNDER_WAY:
        out["message"] = f"Execution {status}: {job['finished_runs']} of {job['planned_runs']} executions done."
        return json_response(out)
    name, out["csv_content"] = await asyncio.to_thread(_finished_files, ctx, job["id"])
    out["xlsx_url"] = _file_url(request, name)
    data = job["data"] or {}
    if job["status"] == JobStatus.SUCCESS:
        out["message"] = "Execution completed successfully."
    elif job["status"] == JobStatus.PARTIAL_SUCCESS:
        out["message"] = f"Execution completed: {data.get('rows', 0) - data.get('completed', 0)} of {data.get('rows', 0)} executions failed."
    else:
        out["message"] = f"Execution {status}: {job['error_message'] or 'see the XLSX for each execution'}"
    return json_response(out)


router.add_api_route("/system/batch_execution/results", _results, methods=["POST"],
                     responses={200: {"model": BatchResults}, **errors(401, 404, 422, 500)},
                     summary="Status and results of a batch (xlsx_url, csv_content)")
router.add_api_route("/system/batch_execution/results/", _results, methods=["POST"], include_in_schema=False)


@router.get("/public/batch_execution_results/{file_name}", name="batch_file", summary="Download a batch's XLSX",
            responses={200: file_response(XLSX), **errors(401, 404, 500)})
async def batch_file(request: Request, file_name: str) -> Response:
    ctx = context(request)
    if not _FILE_NAME.match(file_name):
        return not_found(f"no file {file_name!r}")
    path = ctx.public_dir / file_name
    if file_name.startswith("batch_execution_"):  # a batch's results: rebuilt when the job has changed
        job_id = file_name.removeprefix("batch_execution_").removesuffix(".xlsx")
        try:
            job = _batch_job(ctx, job_id)
        except UnknownJobError:
            return not_found(f"no file {file_name!r}")
        if job["status"] in _UNDER_WAY:
            return not_found(f"{file_name}: the batch is still {job['status']}")
        await asyncio.to_thread(_finished_files, ctx, job_id)
    elif not path.is_file():
        return not_found(f"no file {file_name!r}")
    return FileResponse(path, filename=file_name,
                        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
