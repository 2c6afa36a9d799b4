"""Rich display of every job's result, registered with ``core.hooks`` by the package.

A permutate ``JobResult`` gets its summary card, failure groups, tables and runs (``view``), an
``EvalResult`` its metric card and outputs (``eval_view``), a ``BatchResult`` its DataFrame and
rows (``batch_view``), a ``RunTranscript`` (``result.transcript(i)``) one run's transcript.
``page`` is the whole view with every run listed: the body of the HTML report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core.jobs.batch_result import BatchResult
from ..core.jobs.evals.results import EvalResult
from ..core.jobs.permutate_result import JobResult
from ..core.jobs.transcript import RunTranscript
from .batch_view import render_batch_html
from .eval_transcript import eval_output_html, eval_output_text
from .eval_view import render_eval_html, render_eval_text
from .html_parts import STYLE
from .transcript import batch_row_html, job_run_html, transcript_text
from .view import JobResultView, render_html

__all__ = ["render", "page"]


def _job(result: JobResult, include: Any, exclude: Any) -> dict[str, str]:
    return JobResultView(result)._repr_mimebundle_(include, exclude)


def _batch(result: BatchResult, include: Any, exclude: Any) -> dict[str, str]:
    return {"text/plain": repr(result.to_pandas()), "text/html": render_batch_html(result)}


def _eval(result: EvalResult, include: Any, exclude: Any) -> dict[str, str]:
    return {"text/plain": render_eval_text(result), "text/html": render_eval_html(result)}


def _transcript(handle: RunTranscript, include: Any, exclude: Any) -> dict[str, str]:
    result, index = handle.result, handle.index
    if isinstance(result, JobResult):
        row = result.details[index].to_dict()
        html, text = job_run_html(row, result.request, result.tools), transcript_text(row)
    elif isinstance(result, EvalResult):
        html, text = eval_output_html(result.outputs[index]), eval_output_text(result.outputs[index])
    else:
        record = result.to_pandas().iloc[index].to_dict()
        html, text = batch_row_html(record), "\n".join(f"{k}: {v}" for k, v in record.items())
    return {"text/plain": text, "text/html": f'{STYLE}<div class="pn-v">{html}</div>'}


_RENDERERS: dict[type, Callable[[Any, Any, Any], dict[str, str]]] = {
    JobResult: _job, BatchResult: _batch, EvalResult: _eval, RunTranscript: _transcript,
}


def render(result: Any, include: Any = None, exclude: Any = None) -> dict[str, str]:
    """The display of ``result`` by its class or the nearest base that has one (a ``BfclResult`` is a ``JobResult``)."""
    renderer = next(_RENDERERS[cls] for cls in type(result).__mro__ if cls in _RENDERERS)
    return renderer(result, include, exclude)


def page(result: Any) -> str:
    """The view with every run listed (no cap), for the report and the server's page."""
    if isinstance(result, JobResult):
        return render_html(result, max_rows=None)
    if isinstance(result, EvalResult):
        return render_eval_html(result, max_rows=None)
    if isinstance(result, BatchResult):
        return render_batch_html(result, max_rows=None)
    raise TypeError(f"no report for a {type(result).__name__}")
