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


#: Public names and the module each comes from, imported on first use: a ``permutate run``
#: loads only what its job uses (the notebook layer, pandas, the HTTP client, batches, evals stay out).
_LAZY = {
    "Client": ".client", "submit_batch": ".core.batch", "batch": (".core.batch", "run_batch"),
    "BatchResult": ".core.batch_result", "JobComparison": ".core.compare", "PairedComparison": ".core.compare",
    "compare": (".core.compare", "compare_jobs"), "JobPlan": ".core.engine", "plan_job": ".core.engine",
    "run": ".core.engine", "run_async": ".core.engine", "EvalResult": ".core.evals", "evaluate": ".core.evals",
    "load_dataset": ".core.evals", "JobStarted": ".core.events", "Reporter": ".core.events",
    "generate_test_cases": ".core.generate", "test_cases_yaml": ".core.generate", "jobs": ".core.job_queries",
    "status": ".core.job_queries", "results": ".core.kinds", "resume": ".core.kinds", "Operation": ".core.plugins",
    "Plugin": ".core.plugins", "PluginLoader": ".core.plugins", "load_plugin": ".core.plugins",
    "JobRequest": ".core.request", "load_request": ".core.request", "JobResult": ".core.results",
    "RunDetail": ".core.results", "summarise": ".core.results", "process_csv": ".export",
    "RequestBuilder": ".notebook.widgets",
}

if TYPE_CHECKING:
    from .client import Client
    from .core.batch import run_batch as batch
    from .core.batch import submit_batch
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
    from .notebook.widgets import RequestBuilder


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


hooks.register_renderer(_render)
hooks.register_writer(_write)


def validate(source: Any, *, provider: str | None = None) -> "JobPlan":
    """Check a request and load its plugins without calling any model (no API key needed)."""
    from .core.engine import plan_job

    with one_line_warnings():
        return plan_job(source, provider=provider, check_keys=False)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext permutate_nb``: the notebook layer is imported only here (and on a result's first display)."""
    from .notebook.magics import load_ipython_extension as _load

    _load(ipython)
