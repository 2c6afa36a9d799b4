"""``%load_ext permutate_nb``: the ``%%permutate`` cell magic and ``%permutate`` line magic.

    %%permutate --out result --concurrency 16
    name: my_job
    ...the request in YAML, with {{ name }} filled from the notebook...

Errors show as one or two lines (``--traceback`` shows the whole stack); they are real
``error`` outputs, so nbval and nbclient see a failed cell.
"""

from __future__ import annotations

import re
import sys
import warnings
from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from ..core.engine import JobPlan, plan_job, run
from ..core.matrix import expand_matrix
from ..core.results import JobResult
from ..errors import PermutateError, PermutateWarning, RequestError
from . import history
from .progress import NotebookProgress, widgets_available

__all__ = ["PermutateMagics", "load_ipython_extension", "fill_placeholders", "matrix_frame"]

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")


def _short_error(exc: BaseException) -> BaseException:
    """Make IPython print the error's own message, not a stack."""
    lines = [f"{type(exc).__name__}: {line}" if i == 0 else f"  {line}" for i, line in enumerate(str(exc).splitlines())]
    lines.append("(run the cell with --traceback for the full traceback)")
    exc._render_traceback_ = lambda: lines  # type: ignore[attr-defined]
    return exc


def fill_placeholders(body: str, namespace: dict[str, Any]) -> str:
    """Replace ``{{ name }}`` (or ``{{ obj.attr }}``) with values from the notebook.

    Double braces, because OpenAPI path templates such as ``/books/{isbn}`` use single ones.
    """

    def value(match: re.Match[str]) -> str:
        head, *rest = match.group(1).split(".")
        if head not in namespace:
            line = body.count("\n", 0, match.start()) + 1
            raise RequestError(f"cell line {line}: {{{{ {match.group(1)} }}}}: {head!r} is not defined in the notebook")
        obj = namespace[head]
        for attr in rest:
            obj = obj[attr] if isinstance(obj, dict) else getattr(obj, attr)
        return str(obj)

    return _PLACEHOLDER.sub(value, body)


def matrix_frame(plan: JobPlan) -> Any:
    """One row per run of the plan, without calling any model (``--dry-run``)."""
    import pandas as pd

    request = plan.request
    prompts: dict[tuple[int, str], str | None] = {}
    for c, case in enumerate(request.test_cases):
        for language in plan.languages:
            if language in case.translations:
                prompts[(c, language)] = case.translations[language]
            elif language.lower() == "english":
                prompts[(c, language)] = case.prompt
            else:
                prompts[(c, language)] = f"(translated to {language} at run time) {case.prompt}"
    rows = []
    for spec in expand_matrix(request, prompts):
        perm = request.permutations[spec.permutation]
        case = request.test_cases[spec.test_case]
        rows.append({
            "permutation": perm.name, "llm": perm.llm.summary(),
            "selector": f"{perm.tool_selector.provider}[{perm.tool_selector.pipeline_name}]",
            "plugin_group": perm.tool_selector.plugin_group_name, "test_case": case.name, "type": case.type,
            "language": spec.language, "repeat": spec.repeat, "prompt": spec.prompt,
        })
    return pd.DataFrame(rows)


@magics_class
class PermutateMagics(Magics):
    @magic_arguments()
    @argument("command", nargs="?", default=None, help="line magic: 'jobs' lists the jobs of this session")
    @argument("--out", metavar="NAME", help="store the result in this variable")
    @argument("--concurrency", type=int, help="parallel runs (default: the request's config.concurrency)")
    @argument("--no-cache", action="store_true", help="do not read or write the response cache")
    @argument("--export", metavar="PATH", help="also write the result: .xlsx, .csv or .json")
    @argument("--provider", help="replace every permutation's LLM, e.g. 'local'")
    @argument("--dry-run", action="store_true", help="show the matrix (one row per run); call no model")
    @argument("--traceback", action="store_true", help="show full tracebacks on errors")
    @line_cell_magic
    def permutate(self, line: str, cell: str | None = None) -> Any:
        """Run a permutate request written in the cell (YAML); ``%permutate jobs`` lists past jobs."""
        args = parse_argstring(self.permutate, line)
        try:
            if cell is None:
                if args.command == "jobs":
                    return history.jobs_frame()
                raise RequestError("use %%permutate as a cell magic with a YAML request, or %permutate jobs")
            return self._run_cell(args, cell)
        except (PermutateError, KeyError, AttributeError) as exc:
            if args.traceback:
                raise
            raise _short_error(exc) from None

    def _run_cell(self, args: Any, cell: str) -> Any:
        body = fill_placeholders(cell, self.shell.user_ns)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", PermutateWarning)
            plan = plan_job(body, provider=args.provider)
        for warning in caught:
            print(f"permutate: warning: {warning.message}", file=sys.stderr)
        if args.dry_run:
            return matrix_frame(plan)
        result = self._run_with_progress(plan, args)
        history.record(result)
        if args.export:
            from ..export import write_result

            path = write_result(result, args.export)
            print(f"wrote {path}")
        if args.out:
            self.shell.user_ns[args.out] = result
        return result

    def _run_with_progress(self, plan: JobPlan, args: Any) -> JobResult:
        kwargs: dict[str, Any] = {"plan": plan, "concurrency": args.concurrency, "cache": False if args.no_cache else None}
        if not widgets_available():  # a terminal IPython: a tqdm bar on stderr
            from ..tqdm_reporter import TqdmReporter

            return run(plan.request, reporter=TqdmReporter(), **kwargs)
        per = plan.total_runs // max(len(plan.request.permutations), 1)
        progress = NotebookProgress({p.name: per for p in plan.request.permutations})
        progress.show(f"permutate progress: {plan.request.name} ({plan.total_runs} runs)")
        try:
            return run(plan.request, reporter=progress, **kwargs)
        finally:
            progress.close()


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magics(PermutateMagics)
