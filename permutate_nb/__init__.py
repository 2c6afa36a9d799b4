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
    "Client": ".client", "submit_batch": ".core.jobs.batch", "batch": (".core.jobs.batch", "run_batch"),
    "BatchResult": ".core.jobs.batch_result", "JobComparison": ".core.stats.compare", "PairedComparison": ".core.stats.compare",
    "compare": (".core.jobs.comparing", "compare_jobs"), "JobPlan": ".core.jobs.permutate", "plan_job": ".core.jobs.permutate",
    "run": ".core.jobs.permutate", "run_async": ".core.jobs.permutate", "EvalResult": ".core.jobs.evals", "evaluate": ".core.jobs.evals",
    "load_dataset": ".core.jobs.evals", "JobStarted": ".core.jobs.events", "Reporter": ".core.jobs.events",
    "generate_test_cases": ".core.jobs.generate", "test_cases_yaml": ".core.jobs.generate", "jobs": ".core.store.queries",
    "status": ".core.store.queries", "results": ".core.jobs.kinds", "resume": ".core.jobs.kinds", "Operation": ".core.plugins.loader",
    "Plugin": ".core.plugins.loader", "PluginLoader": ".core.plugins.loader", "load_plugin": ".core.plugins.loader",
    "JobRequest": ".core.request.models", "load_request": ".core.request.models", "JobResult": ".core.jobs.permutate_result",
    "RunDetail": ".core.jobs.permutate_result", "summarise": ".core.jobs.permutate_result", "process_csv": ".export",
    "RequestBuilder": ".notebook.widgets",
}

if TYPE_CHECKING:
    from .client import Client
    from .core.jobs.batch import run_batch as batch
    from .core.jobs.batch import submit_batch
    from .core.jobs.batch_result import BatchResult
    from .core.stats.compare import JobComparison, PairedComparison
    from .core.jobs.comparing import compare_jobs as compare
    from .core.jobs.permutate import JobPlan, plan_job, run, run_async
    from .core.jobs.evals import EvalResult, evaluate, load_dataset
    from .core.jobs.events import JobStarted, Reporter
    from .core.jobs.generate import generate_test_cases, test_cases_yaml
    from .core.store.queries import jobs, status
    from .core.jobs.kinds import results, resume
    from .core.plugins.loader import Operation, Plugin, PluginLoader, load_plugin
    from .core.request.models import JobRequest, load_request
    from .core.jobs.permutate_result import JobResult, RunDetail, summarise
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
    from .core.jobs.permutate import plan_job

    with one_line_warnings():
        return plan_job(source, provider=provider, check_keys=False)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext permutate_nb``: the notebook layer is imported only here (and on a result's first display)."""
    from .notebook.magics import load_ipython_extension as _load

    _load(ipython)
