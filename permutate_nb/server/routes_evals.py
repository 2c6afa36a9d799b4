"""Eval-dataset executions (seed 003): upload a dataset under a pipeline id, execute it, list the executions.

A pipeline id is a label: it groups datasets and their executions and is not a pipeline
this server knows or runs. An execution is an eval job in the store (``permutate jobs``
lists it); the answer is the document's job execution object, whose ``status`` keeps to the
document's values: a job still running (or interrupted, to be resumed) is PENDING, a
cancelled one ERROR with ``error_code`` CANCELLED; ``data.job_status`` has the store's own.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from ..core.api import run_planned
from ..core.jobs.evals.dataset import load_dataset
from ..core.jobs.evals.plan import plan_eval
from ..core.jobs.kinds import job_for
from ..core.jobs.runner import create_record
from ..core.request.safe_load import load_json, read_csv
from ..core.status import JobStatus
from ..errors import RequestError
from .context import ServerContext, context, json_response
from .errors import not_found
from .guard import FieldError
from .schemas import EvalDatasetRecord, EvalJobExecution, errors
from .strict_json import StrictRoute

__all__ = ["LLM_MODELS", "router"]

router = APIRouter(tags=["eval-dataset executions"], route_class=StrictRoute)
#: The document's llm_model values and the model names they run; any other value is taken as a model name.
LLM_MODELS = {"GPT_3_5_TURBO": "gpt-3.5-turbo", "GPT_4": "gpt-4", "GPT_4_TURBO": "gpt-4-turbo", "GPT_4O": "gpt-4o",
              "GPT_4O_MINI": "gpt-4o-mini"}
#: the eval document knows PENDING, SUCCESS, PARTIAL_SUCCESS and ERROR only
_DOC_STATUS = {JobStatus.RUNNING: JobStatus.PENDING, JobStatus.INTERRUPTED: JobStatus.PENDING,
               JobStatus.CANCELLED: JobStatus.ERROR}
_UPLOAD_DOC = {"requestBody": {"content": {
    "application/json": {"schema": {"oneOf": [{"type": "array", "items": {"type": "object"}},
                                              {"type": "object", "properties": {"name": {"type": "string"},
                                                                                "cases": {"type": "array"}}}]},
                         "example": [{"id": "q1", "input": "What is the capital of France?", "expected_output": "Paris",
                                      "context": "Paris is the capital of France."}]},
    "text/csv": {"schema": {"type": "string"}, "example": "id,input,expected_output\nq1,What is 2+2?,4"}}}}


class EvalExecutionParams(BaseModel):
    llm_model: str = Field("GPT_4O", description="GPT_3_5_TURBO, GPT_4, GPT_4_TURBO, GPT_4O, GPT_4O_MINI, or a model name")
    question_answering_template: str | None = Field(None, description="with {context_str} and {query_str}")
    metrics: list[str] | None = None
    judge_model: str | None = None


class EvalExecuteBody(BaseModel):
    eval_execution_params: EvalExecutionParams
    eval_question_ids: list[str] | None = Field(None, description="run only these cases (default: all)")


def _upload_records(raw: bytes, content_type: str) -> tuple[str | None, Any]:
    text = raw.decode("utf-8-sig", errors="replace")
    if "csv" in content_type:
        return None, read_csv(text, "body")  # a CR in a bare field, a field over the limit: 422, as in the CLI
    try:
        data = load_json(text, "body")  # the CLI's reader: its nesting limit, no NaN, no duplicate key
    except ValueError as exc:
        raise FieldError((), f"the body is not JSON ({exc}); send JSON rows, or CSV with Content-Type: text/csv") from None
    if isinstance(data, dict):
        return data.get("name"), {"name": data.get("name"), "cases": data.get("cases") or data.get("rows") or data.get("test_cases") or []}
    return None, data


@router.post("/api/v1/pipelines/{pipeline_id}/eval-datasets", status_code=201, openapi_extra=_UPLOAD_DOC,
             responses={201: {"model": EvalDatasetRecord}, **errors(401, 413, 422, 500)},
             summary="Upload an eval dataset (JSON rows or CSV); answers its id")
async def upload_dataset(request: Request, pipeline_id: str) -> Response:
    ctx = context(request)
    name, records = _upload_records(await request.body(), request.headers.get("content-type", ""))
    request.state.row_loc = ("cases", "#") if isinstance(records, dict) else ("#",)
    dataset = await asyncio.to_thread(load_dataset, records, name=name or "dataset")
    record = ctx.registry.add_dataset(pipeline_id, dataset.name, dataset.to_dict())
    return json_response({**record, "version": dataset.version, "cases": len(dataset.cases)}, status_code=201)


def _execution(ctx: ServerContext, execution: dict[str, Any]) -> dict[str, Any]:
    """The document's job execution object for one eval execution."""
    job = ctx.store.job(execution["job_id"])
    rows = ctx.store.runs(job["id"])
    status = _DOC_STATUS.get(job["status"], job["status"])
    cancelled = job["status"] == JobStatus.CANCELLED
    return {
        "job_name": "eval_dataset_job",
        "partitions": {"pipeline_id": execution["pipeline_id"], "eval_dataset_id": execution["dataset_id"]},
        "parameters": execution["parameters"],
        "session_id": execution["session_id"], "correlation_id": execution["correlation_id"],
        "parent_job_execution_id": None, "user_id": execution["user_id"],
        "created_at": job["created_at"], "id": job["id"], "status": status,
        "error_code": job["error_code"] or (JobStatus.CANCELLED.value if cancelled else None),
        "error_message": job["error_message"] or ("the execution was cancelled" if cancelled else None),
        "attempts": job["attempts"], "started_at": job["started_at"], "ended_at": job["ended_at"],
        "updated_at": job["updated_at"],
        "data": {"job_status": job["status"], "planned": job["planned_runs"], "outputs": [rows[i] for i in sorted(rows)]},
    }


def _dataset(ctx: ServerContext, pipeline_id: str, dataset_id: str) -> dict[str, Any] | None:
    return ctx.registry.dataset(pipeline_id, dataset_id)


@router.post("/api/v1/pipelines/{pipeline_id}/eval-datasets/{eval_dataset_id}/execute",
             responses={200: {"model": EvalJobExecution}, **errors(401, 404, 413, 422, 500)},
             summary="Execute an eval dataset; answers the job execution object")
async def execute(request: Request, pipeline_id: str, eval_dataset_id: str, body: EvalExecuteBody) -> Response:
    ctx = context(request)
    stored = _dataset(ctx, pipeline_id, eval_dataset_id)
    if stored is None:
        return not_found(f"no eval dataset {eval_dataset_id!r} in pipeline {pipeline_id!r}")
    data = stored["data"]
    if body.eval_question_ids is not None:
        known = {case["id"]: case for case in data["cases"]}
        for i, case_id in enumerate(body.eval_question_ids):
            if case_id not in known:
                raise FieldError(("eval_question_ids", i), f"no case {case_id!r} in eval dataset {eval_dataset_id}")
        data = {**data, "cases": [known[i] for i in body.eval_question_ids]}
    params = body.eval_execution_params
    model = LLM_MODELS.get(params.llm_model, params.llm_model)
    judge = LLM_MODELS.get(params.judge_model, params.judge_model) if params.judge_model else None
    try:
        plan = await asyncio.to_thread(plan_eval, data, models=[model], judge_model=judge, metrics=params.metrics,
                                       template=params.question_answering_template, name=stored["name"],
                                       dataset_id=eval_dataset_id)
    except RequestError as exc:
        text = str(exc)
        field = "question_answering_template" if text.startswith("template") else ("metrics" if "metric" in text else None)
        raise FieldError(("eval_execution_params", *([field] if field else [])), text) from None
    job_id = create_record(job_for(plan), ctx.store)
    headers = request.headers
    ctx.registry.add_execution(job_id, pipeline_id, eval_dataset_id, body.model_dump(exclude_none=True),
                               headers.get("x-session-id"), headers.get("x-correlation-id"), headers.get("x-user-id"))
    ctx.manager.launch(job_id, "eval", lambda progress: run_planned(plan, store=ctx.store, job_id=job_id,
                                                                        reporter=progress, executor=ctx.executor()))
    execution = next(e for e in ctx.registry.executions(pipeline_id, eval_dataset_id) if e["job_id"] == job_id)
    return json_response(_execution(ctx, execution))


@router.get("/api/v1/pipelines/{pipeline_id}/eval-datasets/{eval_dataset_id}/execute",
            responses={200: {"model": list[EvalJobExecution]}, **errors(401, 404, 500)},
            summary="The executions of an eval dataset, in the document's schema")
async def executions(request: Request, pipeline_id: str, eval_dataset_id: str) -> Response:
    ctx = context(request)
    if _dataset(ctx, pipeline_id, eval_dataset_id) is None:
        return not_found(f"no eval dataset {eval_dataset_id!r} in pipeline {pipeline_id!r}")
    rows = ctx.registry.executions(pipeline_id, eval_dataset_id)
    return json_response(await asyncio.to_thread(lambda: [_execution(ctx, e) for e in rows]))
