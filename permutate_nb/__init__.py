"""permutate_nb: batch-evaluate LLM tool selection, prompts and RAG answers, notebook first.

    >>> import permutate_nb as pn
    >>> result = pn.run("request.yaml", provider="local")
    >>> result.summary_df
"""

from __future__ import annotations

from typing import Any

from .client import Client
from .core import hooks
from .core.batch import submit_batch
from .core.batch import run_batch as batch
from .core.batch_result import BatchResult
from .core.compare import JobComparison, PairedComparison
from .core.compare import compare_jobs as compare
from .core.engine import JobPlan, plan_job, run, run_async
from .core.evals import EvalResult, evaluate, load_dataset
from .core.events import JobStarted, Reporter
from .core.generate import generate_test_cases, test_cases_yaml
from .core.job_queries import jobs, status
from .core.kinds import results, resume
from .core.plugins import Operation, Plugin, PluginLoader, load_plugin
from .core.request import JobRequest, load_request
from .core.results import JobResult, RunDetail, summarise
from .export import process_csv
from .errors import (
    ConfigurationError,
    MissingExtraError,
    PermutateError,
    PermutateWarning,
    PluginLoadError,
    ProviderError,
    RequestError,
    one_line_warnings,
)

__version__ = "0.1.0"

__all__ = [
    "run",
    "run_async",
    "resume",
    "evaluate",
    "compare",
    "JobComparison",
    "PairedComparison",
    "load_dataset",
    "EvalResult",
    "BatchResult",
    "batch",
    "submit_batch",
    "process_csv",
    "status",
    "results",
    "jobs",
    "plan_job",
    "validate",
    "generate_test_cases",
    "test_cases_yaml",
    "load_request",
    "load_plugin",
    "JobPlan",
    "JobRequest",
    "JobResult",
    "RunDetail",
    "Reporter",
    "JobStarted",
    "Plugin",
    "Operation",
    "PluginLoader",
    "summarise",
    "PermutateError",
    "RequestError",
    "PluginLoadError",
    "ConfigurationError",
    "MissingExtraError",
    "ProviderError",
    "PermutateWarning",
    "load_ipython_extension",
    "RequestBuilder",
    "Client",
]


def __getattr__(name: str) -> Any:
    """Notebook-only names, imported on first use so the core never loads ipywidgets."""
    if name == "RequestBuilder":
        from .notebook.widgets import RequestBuilder

        return RequestBuilder
    raise AttributeError(f"module 'permutate_nb' has no attribute {name!r}")


def _render(result: Any, include: Any, exclude: Any) -> dict[str, str]:
    """A result's rich display; the notebook layer is imported on the first one only."""
    from .notebook.display import render

    return render(result, include, exclude)


hooks.register_renderer(_render)


def validate(source: Any, *, provider: str | None = None) -> JobPlan:
    """Check a request and load its plugins without calling any model (no API key needed)."""
    with one_line_warnings():
        return plan_job(source, provider=provider, check_keys=False)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext permutate_nb``: the notebook layer is imported only here (and on a result's first display)."""
    from .notebook.magics import load_ipython_extension as _load

    _load(ipython)
