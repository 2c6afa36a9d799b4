"""Batch executions (seed 002), with the paths, bodies and result shape of the document.

The same limits as the CLI apply (``MAX_EXECUTIONS_PER_BATCH``, ``MAX_PROMPT_LENGTH``,
``MAX_CONCURRENT_BATCHES``, ``EXECUTION_TIMEOUT``, ``DEFAULT_MAX_THREADS``,
``ASSISTANTS_DEFAULT_MODEL_ID_OR_NAME``, from the environment or ``.env`` in the server's
working directory). The invocation id is the job id in the store. XLSX files are written to
``$PERMUTATE_HOME/public/batch_execution_results/``.
"""

from __future__ import annotations

import asyncio
import csv
import io
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
from ..export import process_csv, write_frame
from ..errors import UnknownJobError
from .context import ServerContext, context, json_response
from ..core.status import JobStatus
from .errors import not_found

__all__ = ["router"]

router = APIRouter(tags=["batch executions"])
_FILE_NAME = re.compile(r"^[A-Za-z0-9_-]+\.xlsx$")
#: the batch document's status words for ours
_STATUS = {JobStatus.PENDING: "pending", JobStatus.RUNNING: "running", JobStatus.SUCCESS: "completed",
           JobStatus.PARTIAL_SUCCESS: "completed", JobStatus.ERROR: "failed", JobStatus.CANCELLED: "cancelled",
           JobStatus.INTERRUPTED: "interrupted"}
_UNDER_WAY = (JobStatus.PENDING, JobStatus.RUNNING)


class ProcessCsvBody(BaseModel):
    csv_content: str = Field(examples=["prompt,model\nWhat is the capital of France?,Granite 13B V2.1"])


class Execution(BaseModel):
    model_config = ConfigDict(extra="allow")  # other columns are carried through to the results
    prompt: str
    model: str | None = None


class ExecuteBatchBody(BaseModel):
    executions: list[Execution] = Field(min_length=1)


class ResultsBody(BaseModel):
    invocation_id: str


def _csv_records(text: str) -> list[dict[str, Any]]:
    """CSV text to rows here, so a one-line body can never be taken for a path on the server."""
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def _file_url(request: Request, name: str) -> str:
    return str(request.url_for("batch_file", file_name=name))


@router.post("/system/batch_execution/process_csv/invoke", summary="Check a CSV; an XLSX with empty result columns")
async def process_csv_invoke(request: Request, body: ProcessCsvBody) -> Response:
    ctx = context(request)
    request.state.row_loc = ("csv_content",)
    name = f"batch_input_{uuid.uuid4().hex}.xlsx"
    path = await asyncio.to_thread(process_csv, _csv_records(body.csv_content), ctx.public_dir / name)
    rows = len(_csv_records(body.csv_content))
    return json_response({"status": "completed", "message": f"{rows} executions checked; nothing was run.",
                          "file_name": path.name, "path": f"public/batch_execution_results/{path.name}",
                          "xlsx_url": _file_url(request, path.name)})


@router.post("/experience/batch_execution/execute_batch/invoke", summary="Start a batch; answers its invocation id")
async def execute_batch(request: Request, body: ExecuteBatchBody) -> Response:
    ctx = context(request)
    request.state.row_loc = ("executions", "#")
    rows = [execution.model_dump() for execution in body.executions]
    plan = await asyncio.to_thread(plan_batch, rows, name="batch_execution")
    job_id = ctx.store.create_job("batch", plan.name, plan.request(), len(plan.rows))
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
    """The XLSX (written once) and the CSV text (prompt, model, result) of a finished batch."""
    rows = ctx.store.runs(job_id)
    frame = batch_frame([rows[i] for i in sorted(rows)])
    name = f"batch_execution_{job_id}.xlsx"
    if not (ctx.public_dir / name).is_file():
        write_frame(frame, ctx.public_dir / name)
    with tempfile.TemporaryDirectory() as folder:  # the export's formula-safe CSV writer
        text = write_frame(frame.reindex(columns=["prompt", "model", "result"]), Path(folder) / "r.csv").read_text("utf-8")
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
                     summary="Status and results of a batch (xlsx_url, csv_content)")
router.add_api_route("/system/batch_execution/results/", _results, methods=["POST"], include_in_schema=False)


@router.get("/public/batch_execution_results/{file_name}", name="batch_file", summary="Download a batch's XLSX")
async def batch_file(request: Request, file_name: str) -> Response:
    ctx = context(request)
    if not _FILE_NAME.match(file_name):
        return not_found(f"no file {file_name!r}")
    path = ctx.public_dir / file_name
    if not path.is_file():
        job_id = file_name.removeprefix("batch_execution_").removesuffix(".xlsx")
        try:
            job = _batch_job(ctx, job_id)
        except UnknownJobError:
            return not_found(f"no file {file_name!r}")
        if job["status"] in _UNDER_WAY:
            return not_found(f"{file_name}: the batch is still {job['status']}")
        await asyncio.to_thread(_finished_files, ctx, job_id)
    return FileResponse(path, filename=file_name,
                        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
