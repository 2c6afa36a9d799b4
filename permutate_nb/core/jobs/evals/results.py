"""An eval's result: the job record, one output per case x model, DataFrames and statistics.

``to_dict()`` has the eval job's shape (top-level ``status``, ``outputs`` and the job's
fields); each output has the application test-case output's shape (``test_case_id``,
``output.generation_output``, ``metric_scores`` with the judge's reasoning, time and usage,
``interaction`` with its ``trace_spans``, ``test_case_version``: seed 004's shape, see ``output_shape``). Like every result: ``job_id``, ``status``,
``to_pandas()`` (the scores), ``write(path)`` and the rich display (``core.result_base``).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ...stats.exact import mean_interval
from ...status import Ending, JobStatus
from ..result_base import Result

if TYPE_CHECKING:
    import pandas as pd

    from .plan import EvalPlan

__all__ = ["EvalResult", "unit_status", "mean_ci"]

def mean_ci(values: list[float]) -> tuple[float | None, float | None, float | None]:
    """Mean and its 95% t interval (``stats.exact.mean_interval``) clipped to [0, 1]; None where there are too few values."""
    if not values:
        return None, None, None
    mean = statistics.fmean(values)
    interval = mean_interval(values)
    if interval is None:
        return mean, None, None
    return mean, max(0.0, interval[0]), min(1.0, interval[1])


def unit_status(rows: list[dict[str, Any]], finished: bool) -> Ending:
    """How the job ended, from its outputs."""
    if not finished:
        return Ending(JobStatus.CANCELLED)
    generated = [r for r in rows if r.get("generation_error") is None]
    if rows and not generated:
        return Ending(JobStatus.ERROR, "ALL_GENERATIONS_FAILED",
                      f"no generation succeeded; the first error: {rows[0]['generation_error']}")
    failed_scores = sum(s["failed"] for r in rows for s in r["metric_scores"])
    if len(generated) < len(rows) or failed_scores:
        return Ending(JobStatus.PARTIAL_SUCCESS, "SOME_STEPS_FAILED",
                      f"{len(rows) - len(generated)} generations and {failed_scores} judgements failed")
    return Ending(JobStatus.SUCCESS)


@dataclass
class EvalResult(Result):
    """An eval job's result: the reference document's job execution, one output per case x model.

    ``summary_df`` has per-metric means with 95% intervals per model, ``scores_df`` one row per score,
    ``pivot_df`` (model, case) rows x metrics; ``to_dict()`` is the job's JSON.

    Attributes:
        id: The job's id in the job store (also ``job_id``).
        status: SUCCESS, PARTIAL_SUCCESS (some generations or judgements failed) or ERROR (none generated).
        parameters: The models, the judge model, the metric names and the QA template.
        outputs: Per case x model: ``test_case_id``, ``model``, ``output.generation_output``,
            ``metric_scores`` (type, category, score, judge metadata), ``trace_spans`` and ``test_case_version``.
        dataset: The dataset's name, version (a hash of its content) and number of cases.
        job: The stored job's fields: times, attempts, error code and message.
    """

    id: str
    status: str
    parameters: dict[str, Any]
    outputs: list[dict[str, Any]]
    dataset: dict[str, Any]
    job: dict[str, Any] = field(default_factory=dict)  # the store's record of the job, as the document shows it

    kind: ClassVar[str] = "eval"
    _run_keys: ClassVar[tuple[str, ...]] = ("test_case_id", "model")

    def _run_rows(self) -> list[dict[str, Any]]:
        return self.outputs

    def _record(self) -> dict[str, Any]:
        return self.job

    @classmethod
    def build(cls, job_id: str, plan: EvalPlan, rows: list[dict[str, Any]], status: str, record: dict[str, Any] | None,
              started: str, error_code: str | None, error_message: str | None) -> EvalResult:
        """The result of a finished run of ``plan`` from its rows (the job store's record, if any, adds its fields)."""
        from ...store.job_store import utc_now

        job = {key: value for key, value in (record or {}).items() if key not in ("request", "data", "kind", "name")}
        job = {"created_at": started, "started_at": started, "ended_at": utc_now(), "attempts": 1, **job,
               "error_code": error_code, "error_message": error_message}
        parameters = {"models": plan.models, "judge_model": plan.judge_model, "metrics": [m.name for m in plan.metrics],
                      "template": plan.template}
        dataset = {"name": plan.dataset.name, "version": plan.dataset.version, "cases": len(plan.dataset.cases)}
        return cls(job_id, status, parameters, rows, dataset, job)

    @classmethod
    def from_store(cls, job: dict[str, Any], rows: list[dict[str, Any]]) -> EvalResult:
        """Rebuild a stored eval job's result (``pn.results(id)``)."""
        request = job["request"]
        data = request["dataset"]
        from .dataset import load_dataset

        dataset = load_dataset(data, name=data.get("name"))
        fields = {k: v for k, v in job.items() if k not in ("request", "data", "kind", "name", "id", "status")}
        return cls(job["id"], job["status"],
                   {"models": request["models"], "judge_model": request["judge_model"], "metrics": request["metrics"],
                    "template": request["template"]},
                   rows, {"name": dataset.name, "version": dataset.version, "cases": len(dataset.cases)}, fields)

    @property
    def job_id(self) -> str:  # type: ignore[override]
        """The job's id in the job store (the same as ``id``)."""
        return self.id

    def to_pandas(self) -> pd.DataFrame:
        """The scores, one row per case x model x metric (``scores_df``)."""
        return self.scores_df

    def to_dict(self) -> dict[str, Any]:
        """The job execution object of the eval-dataset reference document."""
        return {"job_name": "eval_dataset_job", **self.job, "id": self.id, "status": self.status,
                "parameters": {**self.parameters, "dataset": self.dataset}, "outputs": self.outputs}

    @property
    def scores_df(self) -> pd.DataFrame:
        """One row per case x model x metric."""
        import pandas as pd

        rows = []
        for out in self.outputs:
            for s in out["metric_scores"]:
                usage = s["llm_metadata"]["usage"]
                rows.append({"test_case_id": out["test_case_id"], "model": out["model"], "metric_type": s["metric_type"],
                             "category": s["category"], "score": s["score"], "failed": s["failed"],
                             "reasoning": s["llm_metadata"]["reasoning"],
                             "time_elapsed_s": s["llm_metadata"]["time_elapsed_s"],
                             "judge_tokens": sum(u["prompt_tokens"] + u["completion_tokens"] for u in usage),
                             "judge_cost": sum(u["cost"] for u in usage) if all(u["cost"] is not None for u in usage) else None})
        columns = ["test_case_id", "model", "metric_type", "category", "score", "failed", "reasoning", "time_elapsed_s",
                   "judge_tokens", "judge_cost"]
        return pd.DataFrame(rows, columns=columns)

    @property
    def pivot_df(self) -> pd.DataFrame:
        """Scores with (model, case) rows and one column per metric."""
        df = self.scores_df
        return df.pivot_table(index=["model", "test_case_id"], columns="metric_type", values="score", aggfunc="mean",
                              sort=False, dropna=False)

    @property
    def summary_df(self) -> pd.DataFrame:
        """Per model and metric: mean score, its 95% confidence interval, scored and failed counts."""
        import pandas as pd

        df = self.scores_df
        rows = []
        for (model, metric), group in df.groupby(["model", "metric_type"], sort=False):
            values = [float(v) for v in group["score"] if v is not None and v == v]
            mean, low, high = mean_ci(values)
            rows.append({"model": model, "metric_type": metric, "category": group["category"].iloc[0], "mean": mean,
                         "ci95_low": low, "ci95_high": high, "scored": len(values), "failed": int(group["failed"].sum()),
                         "cases": len(group)})
        return pd.DataFrame(rows, columns=["model", "metric_type", "category", "mean", "ci95_low", "ci95_high",
                                           "scored", "failed", "cases"])

    @property
    def outputs_df(self) -> pd.DataFrame:
        """One row per case x model: the generated answer and, if it failed, why."""
        import pandas as pd

        return pd.DataFrame([{"test_case_id": o["test_case_id"], "model": o["model"],
                              "generation_output": o["output"]["generation_output"],
                              "generation_error": o.get("generation_error")} for o in self.outputs])

    def __repr__(self) -> str:
        return f"EvalResult({self.id!r}, status={self.status!r}, outputs={len(self.outputs)})"
