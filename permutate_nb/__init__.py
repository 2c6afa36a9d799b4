"""permutate_nb: batch-evaluate LLM tool selection, prompts and RAG answers, notebook first.

    >>> import permutate_nb as pn
    >>> result = pn.run("request.yaml", provider="local")
    >>> result.summary_df
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .core import hooks
from .errors import (
    ConfigurationError,
    JobRunningError,
    MissingExtraError,
    PermutateError,
    PermutateNote,
    PermutateWarning,
    PluginLoadError,
    ProviderError,
    RequestError,
    TransientProviderError,
    UnknownJobError,
    one_line_warnings,
)

__version__ = "0.1.0"

#: Jobs: each kind with its ``_async`` twin (same first argument, same keywords), and ``submit``.
_JOBS = ["run", "run_async", "batch", "batch_async", "evaluate", "evaluate_async", "resume", "resume_async",
         "generate", "generate_async", "bfcl", "bfcl_async", "submit", "JobHandle"]

__all__ = [
    "run", "run_async", "batch", "batch_async", "evaluate", "evaluate_async", "resume", "resume_async",
    "generate", "generate_async", "bfcl", "bfcl_async", "submit", "JobHandle",
    "generate_test_cases", "test_cases_yaml",
    "results", "status", "jobs", "compare", "defaults",
    "validate", "plan_job", "load_request", "load_plugin", "load_dataset", "process_csv",
    "JobStatus", "RunOutcome", "Settings", "settings",
    "JobResult", "RunDetail", "BatchResult", "EvalResult", "GenerateResult", "BfclResult", "JobComparison", "PairedComparison",
    "JobPlan", "JobRequest", "Plugin", "Operation", "PluginLoader", "summarise",
    "Reporter", "JobStarted", "RunSeen",
    "PermutateError", "RequestError", "PluginLoadError", "UnknownJobError", "JobRunningError", "ConfigurationError",
    "MissingExtraError", "ProviderError", "TransientProviderError", "PermutateWarning", "PermutateNote",
    "tools_from_functions", "load_ipython_extension", "RequestBuilder", "Client",
]


#: Public names and the module each comes from, imported on first use: a ``permutate run``
#: loads only what its job uses (the notebook layer, pandas, the HTTP client, batches, evals stay out).
_LAZY = {
    **{name: ".core.api" for name in _JOBS if name != "JobHandle"},
    "generate_test_cases": ".core.api", "JobHandle": ".core.jobs.handle",
    "test_cases_yaml": ".core.jobs.generate", "GenerateResult": ".core.jobs.generate",
    "BfclResult": ".core.jobs.bfcl",
    "results": ".core.jobs.kinds", "status": ".core.store.queries", "jobs": ".core.store.queries",
    "compare": (".core.jobs.comparing", "compare_jobs"), "defaults": ".core.defaults",
    "plan_job": ".core.jobs.permutate", "JobPlan": ".core.jobs.permutate",
    "load_request": ".core.request.models", "JobRequest": ".core.request.models",
    "load_plugin": ".core.plugins.loader", "Plugin": ".core.plugins.loader", "Operation": ".core.plugins.loader",
    "PluginLoader": ".core.plugins.loader", "load_dataset": ".core.jobs.evals.dataset", "process_csv": ".export",
    "JobStatus": ".core.status", "RunOutcome": ".core.status", "Settings": ".settings", "settings": ".settings",
    "JobResult": ".core.jobs.permutate_result", "summarise": ".core.jobs.permutate_result",
    "RunDetail": ".core.scoring.detail", "BatchResult": ".core.jobs.batch_result",
    "EvalResult": ".core.jobs.evals.results", "JobComparison": ".core.stats.compare",
    "PairedComparison": ".core.stats.compare", "Reporter": ".core.jobs.events", "JobStarted": ".core.jobs.events",
    "RunSeen": ".core.jobs.events", "RequestBuilder": ".notebook.widgets", "Client": ".client",
    "tools_from_functions": ".core.plugins.function_source",
}

if TYPE_CHECKING:
    from .client import Client
    from .core.api import (
        batch,
        batch_async,
        bfcl,
        bfcl_async,
        evaluate,
        evaluate_async,
        generate,
        generate_async,
        generate_test_cases,
        resume,
        resume_async,
        run,
        run_async,
        submit,
    )
    from .core.defaults import defaults
    from .core.jobs.batch_result import BatchResult
    from .core.jobs.comparing import compare_jobs as compare
    from .core.jobs.evals.dataset import load_dataset
    from .core.jobs.evals.results import EvalResult
    from .core.jobs.events import JobStarted, Reporter, RunSeen
    from .core.jobs.generate import GenerateResult, test_cases_yaml
    from .core.jobs.handle import JobHandle
    from .core.jobs.kinds import results
    from .core.jobs.permutate import JobPlan, plan_job
    from .core.jobs.permutate_result import JobResult, summarise
    from .core.plugins.function_source import tools_from_functions
    from .core.plugins.loader import Operation, Plugin, PluginLoader, load_plugin
    from .core.request.models import JobRequest, load_request
    from .core.scoring.detail import RunDetail
    from .core.stats.compare import JobComparison, PairedComparison
    from .core.status import JobStatus, RunOutcome
    from .core.store.queries import jobs, status
    from .export import process_csv
    from .notebook.widgets import RequestBuilder
    from .settings import Settings, settings


def __getattr__(name: str) -> Any:
    """A public name's module is imported on its first use (``_LAZY``)."""
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module 'permutate_nb' has no attribute {name!r}")
    module, attr = where if isinstance(where, tuple) else (where, name)
    value = getattr(importlib.import_module(module, __name__), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def _write(result: Any, path: Any, fmt: str | None) -> Any:
    """``result.write(path)``: the export layer is imported on the first write (it registers itself then)."""
    from .export import write_any

    return write_any(result, path, fmt)


def _render(result: Any, include: Any, exclude: Any) -> dict[str, str]:
    """A result's rich display; the notebook layer is imported on the first one only."""
    from .notebook.display import render

    return render(result, include, exclude)


def _progress(job: Any, start: Any) -> Any:
    """``pn.run`` and the other blocking calls in a notebook: the same live bars as ``%%permutate``
    (the notebook layer is imported only inside a kernel)."""
    import sys

    if "ipykernel" not in sys.modules:
        return start(None)
    from .notebook.progress import job_progress

    return job_progress(job, start)


def _page(result: Any) -> str:
    """A result's whole view, every run listed: the body of the HTML report (``export.report``)."""
    from .notebook.display import page

    return page(result)


hooks.register_renderer(_render)
hooks.register_writer(_write)
hooks.register_progress(_progress)
hooks.register_page(_page)


def validate(source: Any, *, provider: str | None = None) -> JobPlan:
    """Check a request and load its plugins without calling any model (no API key needed)."""
    from .core.jobs.permutate import plan_job

    with one_line_warnings():
        return plan_job(source, provider=provider, check_keys=False)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext permutate_nb``: the notebook layer is imported only here (and on a result's first display)."""
    from .notebook.magics import load_ipython_extension as _load

    _load(ipython)
