"""``%load_ext permutate_nb``: the ``%%permutate`` cell magic and ``%permutate`` line magic.

    %%permutate --out result --concurrency 16
    name: my_job
    ...the request in YAML, with {{ name }} filled from the notebook...

Errors show as one or two lines (``--traceback`` shows the whole stack); they are real
``error`` outputs, so nbval and nbclient see a failed cell. Line numbers count from the cell's
first line (the ``%%permutate`` line), as the editor shows them.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from ..core.api import batch, evaluate, resume, run
from ..core.defaults import default, defaults
from ..core.jobs.permutate import JobPlan, plan_job
from ..core.jobs.result_base import Result
from ..core.jobs.translate import untranslated_prompt
from ..core.request.matrix import expand_matrix
from ..core.store.job_store import created_in_this_process
from ..core.store.queries import jobs
from ..errors import PermutateError, PermutateWarning, RequestError, one_line_warnings
from .progress import permutation_bars, plan_bars, with_progress

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
    prompts = {
        (c, language): untranslated_prompt(case, language) or f"(translated to {language} at run time) {case.prompt}"
        for c, case in enumerate(request.test_cases)
        for language in plan.languages
    }
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
    """The ``permutate`` magics; ``load_ipython_extension`` registers them with the shell."""

    @property
    def _user_ns(self) -> dict[str, Any]:
        """The notebook's variables (a magic always runs inside a shell)."""
        assert self.shell is not None
        return self.shell.user_ns

    @magic_arguments()
    @argument("command", nargs="?", default=None,
              help="'batch': the cell is a CSV of prompt,model,...; 'eval': a YAML eval; line magic: 'jobs' (the stored "
                   "jobs), 'resume ID' (finish a stored job), 'config' (this notebook's defaults)")
    @argument("job_id", nargs="?", default=None, help="resume: the job's id")
    @argument("--out", metavar="NAME", help="store the result in this variable")
    @argument("--concurrency", type=int, help="parallel runs (default: the request's config.concurrency)")
    @argument("--no-cache", action="store_true", help="do not read or write the response cache")
    @argument("--export", metavar="PATH", help="also write the result: .xlsx, .csv, .json, .jsonl or .parquet")
    @argument("--provider", help="replace every permutation's LLM, e.g. 'local'")
    @argument("--dry-run", action="store_true", help="show the matrix (one row per run); call no model")
    @argument("--models", metavar="NAME_OR_FILE", help="batch: a dict in the notebook, or a YAML file, of model settings")
    @argument("--all", action="store_true", help="jobs: every stored job, not only this kernel's")
    @argument("--reset", action="store_true", help="config: forget the defaults set before")
    @argument("--traceback", action="store_true", help="show full tracebacks on errors")
    @line_cell_magic
    def permutate(self, line: str, cell: str | None = None) -> Any:
        """Run a permutate request written in the cell (YAML); ``%permutate jobs`` lists this kernel's jobs."""
        args = parse_argstring(self.permutate, line)
        try:
            if cell is None:
                if args.command == "jobs":
                    stored = jobs()
                    return stored if args.all else stored[stored["id"].isin(created_in_this_process())].reset_index(drop=True)
                if args.command == "resume":
                    return self._resume(args)
                if args.command == "config":
                    return self._config(args)
                raise RequestError("use %%permutate as a cell magic with a YAML request, or %permutate jobs [--all], "
                                   "%permutate resume ID, %permutate config [--provider P] [--concurrency N] [--no-cache]")
            cell = "\n" + cell  # the body starts on the cell's second line: errors name the editor's line
            if args.command == "batch":
                return self._run_batch(args, cell)
            if args.command == "eval":
                return self._run_eval(args, cell)
            if args.command is not None:
                raise RequestError(f"unknown %%permutate command {args.command!r}: use batch, or no command for a request")
            return self._run_cell(args, cell)
        except (PermutateError, KeyError, AttributeError) as exc:
            if args.traceback:
                raise
            raise _short_error(exc) from None

    def _run_cell(self, args: Any, cell: str) -> Any:
        body = fill_placeholders(cell, self._user_ns)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", PermutateWarning)
            plan = plan_job(body, provider=default("provider", args.provider), check_keys=not args.dry_run)
        for warning in caught:  # every cell run shows its warnings (notes: quietly, once per kernel)
            warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
        if args.dry_run:
            return matrix_frame(plan)
        result = with_progress(
            *permutation_bars(plan),
            lambda progress: run(plan, reporter=progress, concurrency=args.concurrency,
                                 cache=False if args.no_cache else None),
        )
        return self._deliver(args, result)

    def _resume(self, args: Any) -> Any:
        """``%permutate resume ID``: finish a stored job (its own run options), with the same live progress."""
        if not args.job_id:
            raise RequestError("%permutate resume needs a job id; %permutate jobs --all lists them")
        result = resume(args.job_id, concurrency=args.concurrency, cache=False if args.no_cache else None)
        return self._deliver(args, result)

    def _config(self, args: Any) -> dict[str, Any]:
        """``%permutate config --provider local --concurrency 4 --no-cache``: this notebook's defaults (shown)."""
        return defaults(provider=args.provider, concurrency=args.concurrency, cache=False if args.no_cache else None,
                        reset=args.reset)

    def _run_batch(self, args: Any, cell: str) -> Any:
        from ..core.jobs.batch import plan_batch

        models = self._user_ns.get(args.models, args.models) if args.models else None
        plan = plan_batch(fill_placeholders(cell, self._user_ns).strip() + "\n", models=models)
        result = self._with_bars("batch", plan, lambda progress: batch(
            plan, reporter=progress, concurrency=args.concurrency, cache=False if args.no_cache else None))
        return self._deliver(args, result)

    def _run_eval(self, args: Any, cell: str) -> Any:
        """The body is YAML: dataset (a path, or cases inline), models, judge_model, metrics, template, model_settings."""
        from ..core.jobs.evals.plan import plan_eval
        from ..core.request.safe_load import load_yaml

        spec = load_yaml(fill_placeholders(cell, self._user_ns), "the eval cell") or {}
        if not isinstance(spec, dict) or not ("dataset" in spec or "cases" in spec):
            raise RequestError("the eval cell needs YAML with dataset: (a file) or cases: [...], and models: [...]")
        unknown = set(spec) - {"dataset", "cases", "name", "models", "model", "judge_model", "metrics", "template",
                               "model_settings"}
        if unknown:
            raise RequestError(f"unknown eval field {sorted(unknown)[0]!r}; use dataset, cases, models, judge_model, "
                               "metrics, template, model_settings")
        dataset = spec.get("dataset") or {"name": spec.get("name", "dataset"), "cases": spec["cases"]}
        settings = spec.get("model_settings")
        if isinstance(settings, str) and settings in self._user_ns:
            settings = self._user_ns[settings]
        plan = plan_eval(dataset, models=spec.get("models") or spec.get("model") or [], judge_model=spec.get("judge_model"),
                         metrics=spec.get("metrics"), template=spec.get("template"), model_settings=settings,
                         name=spec.get("name"))
        result = self._with_bars("eval", plan, lambda progress: evaluate(
            plan, reporter=progress, concurrency=args.concurrency, cache=False if args.no_cache else None))
        return self._deliver(args, result)

    @staticmethod
    def _with_bars(kind: str, plan: Any, start: Any) -> Any:
        """``start(reporter)`` under the plan's bars (``progress.plan_bars``)."""
        totals, title, labels, verdicts = plan_bars(kind, plan)  # type: ignore[misc]
        return with_progress(totals, title, labels, start, verdicts=verdicts)

    def _deliver(self, args: Any, result: Result) -> Any:
        """``--export PATH`` and ``--out NAME``, then the result itself (so ``_`` works)."""
        if args.export:
            print(f"wrote {result.write(args.export)}")
        if args.out:
            self._user_ns[args.out] = result
        return result


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext permutate_nb``: the magics, and for the rest of the session PermutateWarning as one line
    and notes as quiet grey lines (asked for by loading the extension; importing the package patches nothing)."""
    ipython.register_magics(PermutateMagics)
    if not getattr(ipython, "_permutate_warnings", None):
        ipython._permutate_warnings = one_line_warnings()
        ipython._permutate_warnings.__enter__()  # left open: it lasts as long as the kernel
