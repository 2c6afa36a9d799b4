"""The ``permutate`` command: the engine for CI and terminals.

Exit codes (docs/reference/exit-codes.md has the same table):

====  =============================================================================="""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import __version__
from .core.stats.units import counted, matrix_line
from .core.status import CANCELLED, FINAL
from .errors import PermutateError, PermutateWarning, PluginLoadError, RequestError
from .export import RESULT_TYPES, check_output
from .settings import load_env_file

__all__ = ["main"]



class _Parser(argparse.ArgumentParser):
    """Usage errors as one line and exit 2, like every other user error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"permutate: error: {message} (see: {self.prog} --help)\n")


def _count(text: str) -> int:
    """A whole number >= 1 for --concurrency and --per-operation."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be 1 or more")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="permutate", description="Batch-evaluate LLM tool selection.")
    parser.add_argument("--traceback", action="store_true", help="show full tracebacks on errors")
    parser.add_argument("--version", action="version", version=f"permutate {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log what happens (-v: retries, fallbacks, resumes, settings read; -vv: debug)")
    parser.add_argument("-q", "--quiet", dest="log_quiet", action="store_true",
                        help="errors only: no warnings, no progress")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a permutate request")
    run.add_argument("request", nargs="?", help="request file (YAML or JSON)")
    run.add_argument("--resume", metavar="ID", help="finish a stored job (permutate or batch): only runs without a result")
    run.add_argument("--output", "-o", help="write the result: FILE.json, .jsonl, .csv, .xlsx or .parquet")
    run.add_argument("--concurrency", type=_count, help="parallel runs (default: config.concurrency, 8)")
    run.add_argument("--no-cache", action="store_true", help="do not read or write the response cache")
    run.add_argument("--fail-under", type=float, metavar="PCT", help="exit 1 when overall accuracy is below PCT")
    _max_errors(run)
    run.add_argument("--provider", help="replace every permutation's LLM, e.g. 'local' for the embedded model")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no stage lines")
    _executor_flags(run)

    validate = sub.add_parser("validate", help="check a request and its plugins; calls no model")
    validate.add_argument("request")
    validate.add_argument("--provider", help="as for run")

    generate = sub.add_parser("generate", help="write test cases for a plugin from its operations' usage examples")
    generate.add_argument("manifest", help="OpenPlugin or ai-plugin manifest, or OpenAPI document (URL or path)")
    generate.add_argument("--per-operation", type=_count, default=5, metavar="N", help="prompts per operation (default 5)")
    generate.add_argument("--output", "-o", help="write the test_cases: block to this file (default: stdout)")
    generate.add_argument("--provider", default="OpenAIChat", help="OpenAIChat (default), OpenAI or local")
    generate.add_argument("--model", help="model name (default gpt-4o-mini for OpenAIChat)")
    generate.add_argument("--base-url", help="an OpenAI-compatible server")
    generate.add_argument("--api-key-env", metavar="NAME", help="the environment variable holding --base-url's key "
                          "(OPENAI_API_KEY goes only to OPENAI_BASE_URL or OpenAI)")
    generate.add_argument("--no-cache", action="store_true", help="do not read or write the response cache")

    batch = sub.add_parser("batch", help="run prompts x models from a CSV file (columns prompt, model, ...)")
    batch.add_argument("csv", help="CSV file")
    batch.add_argument("--output", "-o", help="write the results: FILE.xlsx or FILE.csv")
    batch.add_argument("--models", help="YAML file mapping model names to {provider, model_name, base_url, params}")
    batch.add_argument("--concurrency", type=_count, help="parallel executions (default: DEFAULT_MAX_THREADS, 4)")
    batch.add_argument("--no-cache", action="store_true", help="do not read or write the response cache")
    _max_errors(batch)
    batch.add_argument("--process-csv", action="store_true", help="check the CSV and write it with empty result columns; run nothing")
    batch.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    _executor_flags(batch)

    evals = sub.add_parser("eval", help="evaluate a dataset (JSONL, CSV, YAML) on one or more models")
    evals.add_argument("dataset")
    evals.add_argument("--model", action="append", required=True, help="a model name (repeat for several)")
    evals.add_argument("--judge-model", help="the model that judges (default: the first --model)")
    evals.add_argument("--metrics", help="comma-separated metric names (default: answer-correctness,faithfulness,exact-match,token-f1)")
    evals.add_argument("--models", help="YAML file mapping model names to {provider, model_name, base_url, params}")
    evals.add_argument("--template", help="QA prompt template with {context_str} and {query_str}")
    evals.add_argument("--concurrency", type=_count, default=8)
    evals.add_argument("--no-cache", action="store_true", help="do not read or write the response cache")
    evals.add_argument("--output", "-o", help="write the result: FILE.json or FILE.xlsx")
    _max_errors(evals)
    evals.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    _executor_flags(evals)

    bfcl = sub.add_parser("bfcl", help="run BFCL's single- and multi-turn categories on models, scored as BFCL does (extra: bfcl)")
    bfcl.add_argument("--categories", "--category", required=True,
                      help="comma-separated BFCL categories, e.g. simple_python,multiple,parallel,live_simple")
    bfcl.add_argument("--model", action="append", required=True, help="a model name (repeat for several: paired comparisons)")
    bfcl.add_argument("--provider", help="the models' provider: OpenAIChat (default) or local (the embedded model)")
    bfcl.add_argument("--base-url", help="an OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1")
    bfcl.add_argument("--limit", type=_count, metavar="N", help="the first N cases of each category")
    bfcl.add_argument("--concurrency", type=_count, help="parallel runs (default 8)")
    bfcl.add_argument("--no-cache", action="store_true", help="do not read or write the response cache")
    bfcl.add_argument("--output", "-o", help="write the rows: FILE.json, .jsonl, .csv, .xlsx or .parquet")
    _max_errors(bfcl)
    bfcl.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    _executor_flags(bfcl)

    sub.add_parser("jobs", help="list the stored jobs")
    status = sub.add_parser("status", help="show a stored job's status")
    status.add_argument("id")
    results = sub.add_parser("results", help="write a stored job's results")
    results.add_argument("id")
    results.add_argument("--output", "-o", required=True, help="FILE.json, .jsonl, .csv, .xlsx or .parquet")

    report = sub.add_parser("report", help="write a stored job's report: one self-contained HTML page")
    report.add_argument("id")
    report.add_argument("--output", "-o", required=True, help="FILE.html")

    compare = sub.add_parser("compare", help="compare two permutate jobs run by run (a regression gate)")
    compare.add_argument("baseline", help="a stored job id or a result file (.json)")
    compare.add_argument("candidate", help="a stored job id or a result file (.json)")
    compare.add_argument("--fail-if-worse", type=float, metavar="PCT",
                         help="exit 1 when a permutation is significantly worse (p < 0.05) by more than PCT points")

    tools = sub.add_parser("tools", help="list the tools on offer (plugin, tool, description, parameters); calls no model")
    tools.add_argument("request", nargs="?", help="a request file: every plugin group's tools")
    tools.add_argument("--manifest", metavar="URL_OR_PATH", help="an OpenPlugin or ai-plugin manifest")
    tools.add_argument("--openapi", metavar="URL_OR_PATH", help="an OpenAPI document")
    tools.add_argument("--functions", metavar="PATH", help="an OpenAI tools array or a BFCL function list (JSON)")
    tools.add_argument("--mcp-command", metavar="\"CMD ARGS\"", help="an MCP server started over stdio, e.g. \"uvx mcp-server-time\"")
    tools.add_argument("--mcp-url", metavar="URL", help="an MCP server over streamable HTTP")
    tools.add_argument("--json", action="store_true", help="machine-readable output (one object per tool, with its input schema)")

    serve = sub.add_parser("serve", help="serve the start-job, batch and eval-dataset HTTP APIs (extra: api)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; others need PERMUTATE_API_KEY)")
    serve.add_argument("--port", type=int, default=8989)
    serve.add_argument("--allow-dir", action="append", default=[], metavar="DIR",
                       help="a folder whose files requests may name (manifests, url_map targets); repeatable")
    serve.add_argument("--allow-private-urls", action="store_true",
                       help="let requests fetch manifests and specs from loopback and private addresses")
    serve.add_argument("--allow-url", action="append", default=[], metavar="PREFIX",
                       help="a URL prefix requests may name (llm.base_url, tool_selector_endpoint, manifests, "
                            "operations), private or not; repeatable; also PERMUTATE_ALLOW_URLS, comma-separated")
    serve.add_argument("--allow-key-env", action="append", default=[], metavar="NAME",
                       help="an environment variable requests may name as llm.api_key_env (or token_env); repeatable")
    serve.add_argument("--max-body-mb", type=float, help="largest request body (default 10, or PERMUTATE_MAX_BODY_MB)")
    serve.add_argument("--allow-mcp-command", action="append", default=[], metavar="NAME",
                       help="a program requests may start as an MCP server (mcp.command[0], exactly); repeatable")
    serve.add_argument("--allow-backend", action="append", default=[], metavar="MODULE",
                       help="a module whose classes conversation test cases may name as backend (and its submodules); "
                            "repeatable; also PERMUTATE_ALLOW_BACKENDS, comma-separated")
    _executor_flags(serve)
    return parser


def _executor_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--executor", choices=("asyncio", "ray"),
                        help="where the runs run: asyncio in this process (default) or Ray actors (extra: ray)")
    parser.add_argument("--ray-address", metavar="ADDR",
                        help="the Ray cluster: auto (the one ray start runs here) or HOST:6379 (default: a local one)")
    parser.add_argument("--workers", type=_count, metavar="N", help="Ray actors (default: the cluster's CPUs)")


def _executor(args: argparse.Namespace) -> Any:
    """The ``--executor`` flags as a spec (None: the request's ``config.executor``, else in-process)."""
    from .core.executors.spec import executor_spec

    return executor_spec(args.executor, address=args.ray_address, workers=args.workers)


def _max_errors(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-errors", type=int, metavar="N",
                        help="exit 3 when more than N runs errored (default: only when every run failed)")


def _errors_exit(errors: list[str], total: int, max_errors: int | None) -> int:
    """3 (with one line on stderr naming the most common error) when every one of ``total`` runs
    errored, or more than ``max_errors`` did; else 0. ``errors`` holds one message per errored run."""
    every = total > 0 and len(errors) == total
    if not errors or not (every or (max_errors is not None and len(errors) > max_errors)):
        return 0
    message, count = Counter(errors).most_common(1)[0]
    what = f"every run failed ({total})" if every else f"{len(errors)} of {total} runs errored, more than --max-errors {max_errors}"
    print(f"permutate: {what}; the most common error ({counted(count, 'run')}): {message[:300]}", file=sys.stderr)
    return 3


def _format_warning(message: Any, category: Any, *args: Any, **kwargs: Any) -> str:
    return f"permutate: warning: {message}\n"


def _cmd_generate(args: argparse.Namespace) -> int:
    from .core.api import generate_test_cases
    from .core.jobs.generate import resolve_llm, test_cases_yaml

    if args.output:
        _check_folder(args.output)
    llm = resolve_llm(provider=args.provider, model=args.model, base_url=args.base_url, api_key_env=args.api_key_env)
    cases = generate_test_cases(args.manifest, per_operation=args.per_operation, llm=llm, cache=not args.no_cache)
    comment = f"permutate generate {args.manifest}: {len(cases)} test cases by {llm.summary()}"
    text = test_cases_yaml(cases, comment=comment)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {len(cases)} test cases to {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from .core.jobs.expectations import expectation_warnings
    from .core.jobs.permutate import plan_job

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plan = plan_job(args.request, provider=args.provider, check_keys=False)
    for warning in caught:  # the expectation warnings are printed below, with the matrix
        if not str(warning.message).startswith("impossible expectation: "):
            warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
    if plan.broken:  # an MCP server that did not start: its runs could only fail
        raise PluginLoadError(next(iter(plan.broken.values())))
    r = plan.request
    ops = sum(len(p.operations) for p in plan.plugins.values())
    print(f"{r.name} {r.version}: valid")
    print(f"  plugins: {len(plan.plugins)} ({ops} operations); groups: {', '.join(plan.toolsets)}")
    print(
        f"  matrix: {matrix_line(len(r.permutations), len(r.test_cases), len(plan.languages), r.config.repeats, plan.total_runs)}"
    )
    for line in expectation_warnings(plan):
        print(f"  warning: {line}")
    return 0


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if value < 1 else f"{value:.2f}"
    return str(value)


def print_summary(result: Any, stream: Any = None) -> None:
    from .core.stats.compare import format_ci
    from .core.stats.repeats import top_pass_hat_k

    stream = stream or sys.stdout
    columns = ["runs", "wrong", "errored", "overall", "step a", "step b", "step c", "avg s", "tokens", "cost $"]
    labels = result.labels()  # with --provider: "p1 (gpt-4o-mini → local SmolLM2-135M-Instruct)"
    rows = [(labels.get(name, name), s) for name, s in result.summary_by("permutation_name").items()]
    rows.append(("(all)", result.summary))
    table = [
        [name, _fmt(s["total_test_cases"]), _fmt(s["wrong_cases"]), _fmt(s["errored_cases"]),
         *(format_ci(s[key], s[f"{key}_ci"]) for key in ("overall_accuracy", "accuracy_step_a", "accuracy_step_b", "accuracy_step_c")),
         _fmt(s["average_response_time_sec"]), _fmt(s["total_llm_tokens_used"]), _fmt(s["total_llm_api_cost"])]
        for name, s in rows
    ]
    conversations = bool(result.summary.get("conversation_runs"))
    if conversations:  # conversations: per-turn accuracy and pass^k beside the conversations' accuracy
        top = top_pass_hat_k(result.summary)
        after = columns.index("overall") + 1
        columns[after:after] = ["turns", *([f"pass^{top[0]}"] if top else [])]
        for row, (_, s) in zip(table, rows):
            row[after + 1:after + 1] = [_pct(s.get("turn_accuracy")), *([_pct(s["pass_hat_k"].get(str(top[0])))] if top else [])]
    header = ["permutation", *columns]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *table)]
    line = "  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths)))
    print(line, file=stream)
    for row in table:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))), file=stream)
    if conversations:
        for cell in result.summary.get("flaky_cases") or ():
            print(f"flaky: {cell['test_case_name']} on {cell['permutation_name']} ({cell['language']}): "
                  f"{cell['passes']} of {cell['repeats']} repeats passed", file=stream)
    status = "" if result.status in FINAL and result.status != CANCELLED else (
        f" ({result.status}: {result.summary['total_test_cases']} of {result.planned_runs} runs)")
    print(f"{result.job_name}: wall time {result.total_run_time:.2f} s{status}", file=stream)


def _cmd_run(args: argparse.Namespace) -> int:
    from .core.api import resume, run
    from .tqdm_reporter import TqdmReporter

    if args.output:
        check_output(args.output)
    reporter = None if args.quiet else TqdmReporter()
    cache = False if args.no_cache else None
    if args.resume:
        if args.request:
            raise RequestError("give either a request file or --resume ID, not both")
        result = resume(args.resume, concurrency=args.concurrency, reporter=reporter, cache=cache, executor=_executor(args))
    elif not args.request:
        raise RequestError("give a request file, or --resume ID")
    else:
        result = run(args.request, provider=args.provider, concurrency=args.concurrency, cache=cache,
                     reporter=reporter, executor=_executor(args))
    return _FINISH[type(result).__name__](result, args)


def _finish_run(result: Any, args: argparse.Namespace) -> int:
    print_summary(result)
    print(f"job id: {result.job_id}")
    if args.output:
        _write(lambda: result.write(args.output), args.output, result.job_id)
    if result.status == CANCELLED:
        return 130
    summary = result.summary
    errored = [d.error or "unknown error" for d in result.details if not d.is_run_completed] if summary["failed_cases"] else []
    if code := _errors_exit(errored, summary["total_test_cases"], args.max_errors):  # rows read only when some failed
        return code
    overall = summary["overall_accuracy"] or 0.0
    if args.fail_under is not None and overall < args.fail_under:
        print(f"permutate: overall accuracy {overall:.1f}% is below --fail-under {args.fail_under:g}%", file=sys.stderr)
        return 1
    return 0


def _finish_batch(result: Any, args: argparse.Namespace) -> int:
    frame = result.to_pandas()
    counts = frame["status"].value_counts().to_dict() if len(frame) else {}
    print(f"batch {result.job_id}: {len(frame)} rows; "
          + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    if args.output:
        _write(lambda: result.write(args.output), args.output, result.job_id)
    if result.status == CANCELLED:
        return 130
    rows = frame.to_dict("records")
    errored = [str(r.get("error") or r["status"]) for r in rows if r["status"] != "completed"]
    return _errors_exit(errored, len(rows), args.max_errors)


def _cmd_batch(args: argparse.Namespace) -> int:
    from .core.api import batch
    from .export import process_csv
    from .tqdm_reporter import TqdmReporter

    _check_input(args.csv, "CSV file")
    if args.output:
        check_output(args.output, (".xlsx", ".csv") if args.process_csv else RESULT_TYPES)
    if args.process_csv:
        if not args.output:
            raise RequestError("--process-csv needs --output FILE.xlsx (or .csv)")
        print(f"wrote {process_csv(args.csv, args.output, models=args.models)}")
        return 0
    result = batch(args.csv, models=args.models, concurrency=args.concurrency, cache=not args.no_cache,
                       name=Path(args.csv).stem, reporter=None if args.quiet else TqdmReporter(verdicts=False),
                       executor=_executor(args))
    return _finish_batch(result, args)


def _finish_eval(result: Any, args: argparse.Namespace) -> int:
    df = result.summary_df
    print(df.to_string(index=False) if not df.empty else "no scores")
    print(f"eval {result.job_id}: {result.status}")
    if args.output:
        _write(lambda: result.write(args.output), args.output, result.job_id)
    if result.status == CANCELLED:
        return 130
    errored = [o["generation_error"] for o in result.outputs if o.get("generation_error")]
    return _errors_exit(errored, len(result.outputs), args.max_errors)


def _cmd_eval(args: argparse.Namespace) -> int:
    from .core.api import evaluate
    from .tqdm_reporter import TqdmReporter

    if args.output:
        check_output(args.output)
    if any(not name.strip() for name in args.model):
        raise RequestError("--model: a model name is empty")

    result = evaluate(args.dataset, models=args.model, judge_model=args.judge_model, metrics=args.metrics,
                      template=args.template, model_settings=args.models, concurrency=args.concurrency,
                      cache=not args.no_cache, reporter=None if args.quiet else TqdmReporter(verdicts=False),
                      executor=_executor(args))
    return _finish_eval(result, args)


def _cmd_bfcl(args: argparse.Namespace) -> int:
    from .core.api import bfcl
    from .tqdm_reporter import TqdmReporter

    if args.output:
        check_output(args.output)
    if any(not name.strip() for name in args.model):
        raise RequestError("--model: a model name is empty")
    result = bfcl(args.categories, args.model, provider=args.provider, base_url=args.base_url, limit=args.limit,
                  concurrency=args.concurrency, cache=False if args.no_cache else None,
                  reporter=None if args.quiet else TqdmReporter(), executor=_executor(args))
    return _finish_bfcl(result, args)


def _finish_bfcl(result: Any, args: argparse.Namespace) -> int:
    """BFCL's per-category accuracies and summary formulas per model, then what BFCL lacks:
    Wilson intervals, cost, latency, paired comparisons."""
    from .core.stats.compare import format_ci
    from .core.stats.units import format_pct

    for model, scores in result.report.items():
        print(f"{model}:")
        print(f"  {'category':24} {'cases':>6} {'accuracy (95% CI)':>26}")
        for category, figures in scores["categories"].items():
            print(f"  {category:24} {figures['cases']:6} {format_ci(figures['accuracy'], figures['accuracy_ci']):>26}")
        formulas = ", ".join(f"{k} {format_pct(scores[k])}" for k in ("non_live", "live", "irrelevance", "relevance",
                                                                     "multi_turn", "overall") if scores[k] is not None)
        print(f"  BFCL summary: {formulas}")
        cost = "unknown" if scores["cost"] is None else f"${scores['cost']:.4f}"
        print(f"  cost {cost}; latency mean {scores['latency_mean_sec']} s, p95 {scores['latency_p95_sec']} s")
    for comparison in result.pairwise():
        print(comparison)
    print(f"job id: {result.job_id}")
    if args.output:
        _write(lambda: result.write(args.output), args.output, result.job_id)
    if result.status == CANCELLED:
        return 130
    errored = [d.error or "unknown error" for d in result.details if not d.is_run_completed]
    return _errors_exit(errored, len(result.details), args.max_errors)


def _check_input(path: str, what: str) -> None:
    """A named input file must exist and be a file (a folder or a typo is one line, not CSV text)."""
    target = Path(path).expanduser()
    if target.is_dir():
        raise RequestError(f"{path}: is a folder, expected a {what}")
    if not target.is_file():
        raise RequestError(f"{path}: {what} not found")


def _check_folder(path: str) -> None:
    folder = Path(path).expanduser().parent
    if not folder.is_dir():
        raise RequestError(f"--output {path}: the folder {folder} does not exist; create it first")


def _write(write: Callable[[], Path], output: str, job_id: str | None) -> None:
    """Write the output; a failure costs the file, not the job, and says how to get it again."""
    try:
        path = write()
    except (OSError, PermutateError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        again = f"; the result is stored: permutate results {job_id} --output FILE" if job_id else ""
        raise PermutateError(f"could not write {output}: {reason}{again}") from None
    print(f"wrote {path}")


def _cmd_jobs(args: argparse.Namespace) -> int:
    from .core.store.queries import jobs

    frame = jobs()
    if frame.empty:
        print("no jobs yet")
        return 0
    print(frame[["id", "kind", "name", "status", "attempts", "planned_runs", "finished_runs", "created_at"]].to_string(index=False))
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from .core.store.queries import status

    for key, value in status(args.id).items():
        print(f"{key}: {value if value is not None else '-'}")
    return 0


def _cmd_results(args: argparse.Namespace) -> int:
    from .core.jobs.kinds import results

    check_output(args.output)
    result = results(args.id)
    _write(lambda: result.write(args.output), args.output, None)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from .core.jobs.kinds import results

    check_output(args.output, (".html",))
    result = results(args.id)
    _write(lambda: result.write(args.output), args.output, None)
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from .core.jobs.comparing import compare_jobs
    from .core.stats.units import format_p

    comparison = compare_jobs(args.baseline, args.candidate)
    print(comparison)
    if args.fail_if_worse is None:
        return 0
    worse = comparison.worse(args.fail_if_worse)
    for name in worse:
        c = comparison.permutations[name]
        print(f"permutate: {name} is {-c.difference:.1f} points worse (p = {format_p(c.p_value)}), more than "
              f"--fail-if-worse {args.fail_if_worse:g}", file=sys.stderr)
    return 1 if worse else 0


def _cmd_tools(args: argparse.Namespace) -> int:
    import json

    from .core.jobs.tool_listing import format_table, tools_of_request, tools_of_source

    sources = dict(manifest=args.manifest, openapi=args.openapi, functions=args.functions,
                   mcp_command=args.mcp_command, mcp_url=args.mcp_url)
    if args.request and any(sources.values()):
        raise RequestError("give a request file or one source flag, not both")
    lines = tools_of_request(args.request) if args.request else tools_of_source(**sources)
    if args.json:
        print(json.dumps(lines, indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(format_table(lines))
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from .server import ServerSettings, serve

    serve(ServerSettings.from_env(host=args.host, port=args.port, allow_dirs=args.allow_dir,
                                  allow_private_urls=args.allow_private_urls, max_body_mb=args.max_body_mb,
                                  executor=_executor(args), allow_mcp_commands=args.allow_mcp_command,
                                  allow_urls=args.allow_url, allow_key_envs=args.allow_key_env,
                                  allow_backends=args.allow_backend))
    return 0


_FINISH = {"JobResult": _finish_run, "BatchResult": _finish_batch, "EvalResult": _finish_eval, "BfclResult": _finish_bfcl}  # by name: no import


def _log_to_stderr(level: int) -> None:
    """The ``permutate_nb`` logger's records as ``permutate: message`` lines on stderr."""
    logger = logging.getLogger("permutate_nb")
    logger.setLevel(level)
    if not any(getattr(h, "_permutate_cli", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("permutate: %(message)s"))
        handler._permutate_cli = True  # type: ignore[attr-defined]
        logger.addHandler(handler)


def main(argv: Sequence[str] | None = None) -> int:
    """The ``permutate`` entry point: runs one subcommand and returns its exit code (errors as one line, exit 2)."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed as one line
        return int(exc.code or 0)
    warnings.formatwarning = _format_warning
    warnings.simplefilter("ignore" if args.log_quiet else "default", PermutateWarning)
    _log_to_stderr(logging.ERROR if args.log_quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)])
    if args.log_quiet and hasattr(args, "quiet"):
        args.quiet = True
    load_env_file(Path.cwd() / ".env")  # the CLI and serve read ./.env; the library never does
    commands = {"run": _cmd_run, "validate": _cmd_validate, "generate": _cmd_generate, "batch": _cmd_batch, "eval": _cmd_eval, "bfcl": _cmd_bfcl, "jobs": _cmd_jobs,
                "status": _cmd_status, "results": _cmd_results, "report": _cmd_report, "compare": _cmd_compare, "serve": _cmd_serve, "tools": _cmd_tools}
    try:
        return commands[args.command](args)
    except PermutateError as exc:
        if args.traceback:
            raise
        print(f"permutate: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("permutate: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
