"""Rich display of every job's result, registered with ``core.hooks`` by the package.

A permutate ``JobResult`` gets its summary card and tables (``view``), an ``EvalResult``
its metric card (``eval_view``), a ``BatchResult`` its DataFrame's own display.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core.jobs.batch_result import BatchResult
from ..core.jobs.evals.results import EvalResult
from ..core.jobs.permutate_result import JobResult
from .eval_view import render_eval_html, render_eval_text
from .view import JobResultView

__all__ = ["render"]


def _job(result: JobResult, include: Any, exclude: Any) -> dict[str, str]:
    return JobResultView(result)._repr_mimebundle_(include, exclude)


def _batch(result: BatchResult, include: Any, exclude: Any) -> dict[str, str]:
    frame = result.to_pandas()
    return {"text/plain": repr(frame), "text/html": frame._repr_html_()}


def _eval(result: EvalResult, include: Any, exclude: Any) -> dict[str, str]:
    return {"text/plain": render_eval_text(result), "text/html": render_eval_html(result)}


_RENDERERS: dict[type, Callable[[Any, Any, Any], dict[str, str]]] = {
    JobResult: _job, BatchResult: _batch, EvalResult: _eval,
}


def render(result: Any, include: Any = None, exclude: Any = None) -> dict[str, str]:
    return _RENDERERS[type(result)](result, include, exclude)
