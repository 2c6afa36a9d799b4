"""Start-job (seed 000) and the jobs around it: list, status, result (JSON, CSV, XLSX), report (HTML), cancel."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any, Literal, Protocol, cast

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from starlette.background import BackgroundTask

from ..core.api import run_planned
from ..core.jobs.batch_result import BatchResult
from ..core.jobs.kinds import KINDS, job_for, results
from ..core.jobs.result_base import Result
from ..core.jobs.runner import create_record
from ..core.status import STATUSES, JobStatus
from ..export.report import CONTENT_SECURITY_POLICY, report_html
from .context import context, json_response, json_response_async
from .schemas import CSV, XLSX, JobAccepted, JobRecord, StartJobResponse, errors, file_response
from .schemas import JobStatus as JobStatusBody
from .strict_json import StrictRoute

__all__ = ["router"]

router = APIRouter(route_class=StrictRoute)
_HIDDEN = ("request", "data")
_START_EXAMPLE = {
    "version": "1.1.0", "name": "klarna_plugin_test",
    "config": {"auto_translate_to_languages": ["English"]},
    "plugin_groups": [{"name": "my_group1", "plugins": [
        {"manifest_url": "https://assistant-management-data.s3.amazonaws.com/Klarna_Shopping.json"}]}],
    "permutations": [{"name": "permutation1", "llm": {"provider": "OpenAIChat", "model_name": "gpt-4o-mini"},
                      "tool_selector": {"provider": "OpenAI", "pipeline_name": "default", "plugin_group_name": "my_group1"}}],
    "test_cases": [{"name": "test1", "type": "plugin_selector", "prompt": "Show me 5 T shirts from Klarna",
                    "expected_plugin_used": "https://assistant-management-data.s3.amazonaws.com/Klarna_Shopping.json",
                    "expected_api_used": "https://www.klarna.com/us/shopping/public/openai/v0/products",
                    "expected_method": "get"}],
}


@router.post("/api/start-job", tags=["start-job"], summary="Run a permutate request (the start-job API)",
             responses={200: {"model": StartJobResponse},
                        202: {"model": JobAccepted, "description": "with ?wait=false: {job_id, status, status_url}"},
                        **errors(401, 413, 422, 500)})
async def start_job(request: Request, body: dict[str, Any] = Body(..., examples=[_START_EXAMPLE]),
                    wait: bool = Query(True, description="false: answer 202 at once and run in the background"),
                    provider: str | None = Query(None, description="run every permutation's LLM on this provider, as "
                                                 "`permutate run --provider` does (`local`: the embedded model)")) -> Response:
    """The body is a permutate request in JSON (flat or nested form). By default the job runs and the answer is the
    start-job response (``JobResult.to_dict()``); with ``?wait=false`` the answer is ``202 {job_id, status, status_url}``."""
    ctx = context(request)
    plan = await ctx.plan_permutate_async(body, provider)
    job_id = create_record(job_for(plan), ctx.store)
    task = ctx.manager.launch(job_id, "permutate", lambda progress: run_planned(
        plan, store=ctx.store, job_id=job_id, reporter=progress, executor=ctx.executor(plan.request)))
    if not wait:
        return JSONResponse({"job_id": job_id, "status": JobStatus.PENDING,
                             "status_url": str(request.url_for("job_status", job_id=job_id))}, status_code=202)
    result = await asyncio.shield(task)
    return await json_response_async(result.to_dict)


def _public(job: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in job.items() if k not in _HIDDEN}


@router.get("/api/jobs", tags=["jobs"], summary="List the stored jobs (every face's)",
            responses={200: {"model": list[JobRecord]}, **errors(401, 422, 500)})
async def list_jobs(request: Request, status: str | None = None, kind: str | None = None) -> Response:
    if status is not None and status not in STATUSES:
        return JSONResponse({"detail": [{"loc": ["query", "status"], "type": "enum",
                                         "msg": f"unknown status {status!r}; use one of {', '.join(STATUSES)}"}]}, 422)
    if kind is not None and kind not in KINDS:
        return JSONResponse({"detail": [{"loc": ["query", "kind"], "type": "enum",
                                         "msg": f"unknown kind {kind!r}; use one of {', '.join(KINDS)}"}]}, 422)
    jobs = context(request).store.jobs(kind)
    return json_response([job for job in jobs if status is None or job["status"] == status])


@router.get("/api/jobs/{job_id}", name="job_status", tags=["jobs"], summary="A job's status, done/total, summary so far",
            responses={200: {"model": JobStatusBody}, **errors(401, 404, 500)})
async def job_status(request: Request, job_id: str) -> Response:
    ctx = context(request)
    job = ctx.store.job(job_id)
    live = ctx.manager.progress.get(job_id)
    progress: dict[str, Any] | None
    if live is not None and live.total:
        progress, summary = live.to_dict(), live.summary()
        done, total = progress["done"], progress["total"]
    else:
        progress, summary = ctx.manager.final_progress.get(job_id), (job["data"] or {}).get("summary")
        done, total = job["finished_runs"], job["planned_runs"]
    return json_response({**_public(job), "job_id": job_id, "done": done, "total": total, "progress": progress,
                          "summary": summary, "result_url": str(request.url_for("job_result", job_id=job_id))})


class _Serialisable(Protocol):
    """A result other than a batch's: it says itself as JSON."""

    def to_dict(self) -> dict[str, Any]: ...


def _result_json(data: Result) -> dict[str, Any]:
    if isinstance(data, BatchResult):
        return {"job_id": data.job_id, "status": data.status,
                "rows": json.loads(data.to_pandas().to_json(orient="records"))}
    return cast(_Serialisable, data).to_dict()


def _write_file(data: Result, path: Path) -> Path:
    """The same exports as the CLI's ``permutate results ID --output FILE``."""
    return data.write(path)


@router.get("/api/jobs/{job_id}/result", name="job_result", tags=["jobs"],
            responses={200: {"description": "JSON (a start-job response, an eval's result, or a batch's rows), or the file",
                             "content": {"application/json": {"schema": {"type": "object"}},
                                         **file_response(CSV, XLSX)["content"]}},
                       **errors(401, 404, 422, 500)},
            summary="A job's result: JSON, or ?format=csv|xlsx to download the file")
async def job_result(request: Request, job_id: str, format: Literal["json", "csv", "xlsx"] = "json") -> Response:
    ctx = context(request)
    data = await asyncio.to_thread(results, job_id, store=ctx.store)
    if format == "json":
        return await json_response_async(lambda: _result_json(data))
    folder = Path(tempfile.mkdtemp(prefix="permutate-download-"))
    path = await asyncio.to_thread(_write_file, data, folder / f"{job_id}.{format}")
    media = "text/csv" if format == "csv" else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return FileResponse(path, media_type=media, filename=path.name,
                        background=BackgroundTask(_remove, path))


@router.get("/jobs/{job_id}", name="job_report", tags=["jobs"], response_class=HTMLResponse,
            responses={200: {"description": "the report page", "content": {"text/html": {"schema": {"type": "string"}}}},
                       **errors(401, 404, 500)},
            summary="A job's report: the HTML page `permutate report` writes (summary, failures, every transcript)")
async def job_report(request: Request, job_id: str) -> Response:
    ctx = context(request)
    data = await asyncio.to_thread(results, job_id, store=ctx.store)
    page = await asyncio.to_thread(report_html, data)
    return HTMLResponse(page, headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY,
                                       "X-Content-Type-Options": "nosniff"})


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.parent.rmdir()


@router.delete("/api/jobs/{job_id}", tags=["jobs"], summary="Cancel a running job (its finished runs are kept)",
               responses={200: {"model": JobRecord}, **errors(401, 404, 409, 500)})
async def cancel_job(request: Request, job_id: str) -> Response:
    ctx = context(request)
    job = ctx.store.job(job_id)
    if ctx.manager.cancel(job_id):
        await ctx.manager.wait(job_id)
        job = ctx.store.job(job_id)
        return json_response({**_public(job), "job_id": job_id})
    if job["status"].is_final:
        return JSONResponse({"detail": f"job {job_id} already ended ({job['status']})"}, status_code=409)
    return JSONResponse({"detail": f"job {job_id} is {job['status']} but not run by this server; stop it where it runs"},
                        status_code=409)
