"""``pn.Client``: a permutate server (``permutate serve``) from Python, with the local API's result objects.

    client = pn.Client("http://host:8989", api_key="...")
    result = client.run("job.yaml")           # a JobResult: summary_df, details_df, to_excel, rich display
    batch = client.batch([{"prompt": "Hi", "model": "gpt-4o-mini"}])  # a BatchResult, as pn.batch gives
    ev = client.evaluate(cases, model="gpt-4o-mini", metrics=["exact-match"])

Progress comes from polling the job's status and is fed to the same reporters as local
runs (widget bars in a notebook, a tqdm bar elsewhere, or the ``reporter`` you pass).
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import httpx

from .core.frames import is_dataframe
from .core.jobs.events import JobStarted, Reporter, RunSeen
from .core.jobs.permutate_result import JobResult, RunDetail
from .core.status import FINAL
from .errors import ConfigurationError, PermutateError, RequestError, UnknownJobError

__all__ = ["Client"]



def job_result_from_dict(data: dict[str, Any]) -> JobResult:
    """A JobResult rebuilt from its ``to_dict()`` (the start-job response)."""
    return JobResult(
        job_name=data["job_name"], started_on=data["started_on"], completed_on=data["completed_on"],
        test_plugin=data.get("test_plugin"), permutations=data.get("permutations", []),
        details=[RunDetail.from_dict(row) for row in data.get("details", [])],
        total_run_time=(data.get("summary") or {}).get("total_run_time", 0.0), status=data.get("status", "SUCCESS"),
        planned_runs=data.get("planned_runs", 0), output_directory=data.get("output_directory"), job_id=data.get("job_id"),
    )


def eval_result_from_dict(data: dict[str, Any]) -> Any:
    """An EvalResult rebuilt from its ``to_dict()``."""
    from .core.jobs.evals.results import EvalResult

    parameters = dict(data.get("parameters") or {})
    dataset = parameters.pop("dataset", {})
    job = {k: v for k, v in data.items() if k not in ("job_name", "id", "status", "parameters", "outputs")}
    return EvalResult(data["id"], data["status"], parameters, data.get("outputs", []), dataset, job)


class _PollFeed:
    """Turns successive status polls into reporter events (one ``run_finished`` per newly counted run)."""

    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter
        self.started = False
        self.seen: dict[str, list[int]] = {}
        self.index = 0

    def update(self, progress: dict[str, Any] | None) -> None:
        if progress is None:
            return
        if not self.started:
            groups = tuple(progress["by_group"])
            self.reporter.job_started(JobStarted(progress["job_name"] or "job", progress["total"], groups,
                                                 progress["runs_per_group"]))
            self.started = True
        for group, counts in progress["by_group"].items():
            seen = self.seen.setdefault(group, [0, 0, 0])
            for slot, (key, completed, passed) in enumerate((("passed", True, True), ("failed", True, False),
                                                            ("errored", False, False))):
                for _ in range(counts[key] - seen[slot]):
                    self.reporter.run_finished(self.index, RunSeen(group, completed, passed))
                    self.index += 1
                seen[slot] = counts[key]


class Client:
    """Submit requests, batches and evals to a permutate server; get the same result objects back."""

    def __init__(self, base_url: str, api_key: str | None = None, *, timeout: float = 60.0,
                 poll_interval: float = 0.5) -> None:
        headers = {"x-api-key": api_key} if api_key else {}
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)
        self.poll_interval = poll_interval

    def __repr__(self) -> str:
        return f"Client({str(self._http.base_url)!r})"

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- HTTP --------------------------------------------------------------------------------
    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ConfigurationError(f"cannot reach the permutate server at {self._http.base_url}: {exc}") from None
        if response.status_code < 400:
            return response
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text
        if isinstance(detail, list):
            detail = "\n".join(str(entry.get("msg")) for entry in detail)
        if response.status_code == 422:
            raise RequestError(str(detail))
        if response.status_code == 404:
            raise UnknownJobError(str(detail))
        if response.status_code == 401:
            raise ConfigurationError(f"the server refused the API key: {detail}")
        raise PermutateError(f"the server answered {response.status_code}: {detail}")

    # -- jobs ----------------------------------------------------------------------------------
    def submit(self, request: Any, *, provider: str | None = None) -> str:
        """Start a permutate job; returns its id at once. ``request``: a dict, or a YAML/JSON file or text;
        ``provider``: every permutation's LLM on it (``local``: the server's embedded model)."""
        if not isinstance(request, dict):
            from .core.request.models import load_request

            request = load_request(request).to_dict()
        params = {"wait": "false", **({"provider": provider} if provider else {})}
        return str(self._call("POST", "/api/start-job", params=params, json=request).json()["job_id"])

    def run(self, request: Any, *, provider: str | None = None, reporter: Reporter | None = None,
            progress: bool = True) -> JobResult:
        """Run a permutate job on the server and wait for its JobResult, showing progress."""
        job_id = self.submit(request, provider=provider)
        return self.wait(job_id, reporter=reporter, progress=progress)

    def status(self, job_id: str) -> dict[str, Any]:
        """Status, done/total and the summary so far."""
        return self._call("GET", f"/api/jobs/{job_id}").json()

    def jobs(self, *, status: str | None = None, kind: str | None = None) -> Any:
        """The server's stored jobs as a DataFrame."""
        import pandas as pd

        params = {k: v for k, v in (("status", status), ("kind", kind)) if v}
        return pd.DataFrame(self._call("GET", "/api/jobs", params=params).json())

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Cancel a running job; its finished runs are kept."""
        return self._call("DELETE", f"/api/jobs/{job_id}").json()

    def result(self, job_id: str) -> Any:
        """A JobResult, an EvalResult or a BatchResult (as ``pn.run``, ``pn.evaluate``, ``pn.batch`` give)."""
        status = self.status(job_id)
        data = self._call("GET", f"/api/jobs/{job_id}/result").json()
        if status["kind"] == "eval":
            return eval_result_from_dict(data)
        if status["kind"] == "batch":
            from .core.jobs.batch_result import BatchResult, batch_frame

            return BatchResult(job_id, status["status"], batch_frame(data["rows"]))
        return job_result_from_dict(data)

    def download(self, job_id: str, path: str, *, format: str | None = None) -> str:
        """Save the job's CSV or XLSX export (by ``path``'s extension) as the server writes it."""
        fmt = format or path.rsplit(".", 1)[-1].lower()
        content = self._call("GET", f"/api/jobs/{job_id}/result", params={"format": fmt}).content
        with open(path, "wb") as handle:
            handle.write(content)
        return path

    def wait(self, job_id: str, *, reporter: Reporter | None = None, progress: bool = True,
             totals: dict[str, int] | None = None) -> Any:
        """Poll until the job ends, feeding ``reporter`` (default: bars, as local runs show them); the result."""
        bars: Any = None
        feed = _PollFeed(reporter) if reporter is not None else None
        try:
            while True:
                status = self.status(job_id)
                live = status.get("progress")
                if feed is None and progress and live:
                    reporter, bars = _default_reporter(totals or _totals(live), status["name"])
                    feed = _PollFeed(reporter)
                if feed is not None:
                    feed.update(live)
                if status["status"] in FINAL:
                    break
                time.sleep(self.poll_interval)
            result = self.result(job_id)
            if feed is not None and feed.started:
                feed.reporter.job_finished(result)
            return result
        except KeyboardInterrupt:
            self.cancel(job_id)  # an interrupt cancels the job and hands back its finished runs
            return self.result(job_id)
        finally:
            if bars is not None:
                bars.close()

    # -- batches and evals -----------------------------------------------------------------------
    def batch(self, executions: Any, *, reporter: Reporter | None = None, progress: bool = True) -> Any:
        """Run prompts x models (a list of ``{prompt, model}``, or a DataFrame) on the server; the BatchResult."""
        rows = executions.to_dict(orient="records") if is_dataframe(executions) else list(executions)
        started = self._call("POST", "/experience/batch_execution/execute_batch/invoke", json={"executions": rows})
        totals = dict(Counter(str(row.get("model") or "default") for row in rows))
        return self.wait(started.json()["invocation_id"], reporter=reporter, progress=progress, totals=totals)

    def evaluate(self, dataset: Any, *, model: str, pipeline_id: str = "default", metrics: list[str] | None = None,
                 judge_model: str | None = None, template: str | None = None, reporter: Reporter | None = None,
                 progress: bool = True) -> Any:
        """Upload a dataset under ``pipeline_id`` (a label), execute it on ``model``; the EvalResult."""
        from .core.jobs.evals.dataset import load_dataset

        data = load_dataset(dataset).to_dict()
        uploaded = self._call("POST", f"/api/v1/pipelines/{pipeline_id}/eval-datasets",
                              json={"name": data["name"], "cases": data["cases"]}).json()
        params = {k: v for k, v in (("llm_model", model), ("metrics", metrics), ("judge_model", judge_model),
                                    ("question_answering_template", template)) if v is not None}
        execution = self._call("POST", f"/api/v1/pipelines/{pipeline_id}/eval-datasets/{uploaded['id']}/execute",
                               json={"eval_execution_params": params}).json()
        return self.wait(execution["id"], reporter=reporter, progress=progress)


def _totals(live: dict[str, Any]) -> dict[str, int]:
    groups = list(live["by_group"]) or ["job"]
    per = live["runs_per_group"] or max(live["total"] // len(groups), 1)
    return dict.fromkeys(groups, per)


def _default_reporter(totals: dict[str, int], title: str) -> tuple[Reporter, Any]:
    """Widget bars in a notebook (returned too, to close), else a tqdm bar on stderr."""
    from .notebook.progress import NotebookProgress, widgets_available

    if widgets_available():
        bars = NotebookProgress(totals)
        bars.show(f"permutate progress: {title}")
        return bars, bars
    from .tqdm_reporter import TqdmReporter

    return TqdmReporter(), None
