"""The ``permutate`` command: the engine for CI and terminals.

Exit codes: 0 done; 1 the job ran but overall accuracy is below ``--fail-under``;
2 a user error (invalid request, unreadable manifest, missing key), printed as one
line without a traceback (``--traceback`` shows it).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any, Sequence

from .errors import PermutateError, PermutateWarning

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="permutate", description="Batch-evaluate LLM tool selection.")
    parser.add_argument("--traceback", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a permutate request")
    run.add_argument("request", help="request file (YAML or JSON)")
    run.add_argument("--output", "-o", help="write the result: FILE.json, FILE.csv or FILE.xlsx")
    run.add_argument("--concurrency", type=int, help="parallel runs (default: config.concurrency, 8)")
    run.add_argument("--no-cache", action="store_true", help="do not read or write the response cache")
    run.add_argument("--fail-under", type=float, metavar="PCT", help="exit 1 when overall accuracy is below PCT")
    run.add_argument("--provider", help="replace every permutation's LLM, e.g. 'local' for the embedded model")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress bar")

    validate = sub.add_parser("validate", help="check a request and its plugins; calls no model")
    validate.add_argument("request")
    validate.add_argument("--provider", help="as for run")
    return parser


def _format_warning(message: Any, category: Any, *args: Any, **kwargs: Any) -> str:
    return f"permutate: warning: {message}\n"


def _cmd_validate(args: argparse.Namespace) -> int:
    from .core.engine import plan_job

    plan = plan_job(args.request, provider=args.provider)
    r = plan.request
    ops = sum(len(p.operations) for p in plan.plugins.values())
    print(f"{r.name} {r.version}: valid")
    print(f"  plugins: {len(plan.plugins)} ({ops} operations); groups: {', '.join(plan.toolsets)}")
    print(
        f"  matrix: {len(r.permutations)} permutations x {len(r.test_cases)} test cases x "
        f"{len(plan.languages)} languages x {r.config.repeats} repeats = {plan.total_runs} runs"
    )
    return 0


def _fmt(value: Any, pct: bool = False) -> str:
    if value is None:
        return "-"
    if pct:
        return f"{value:.1f}%"
    if isinstance(value, float):
        return f"{value:.4f}" if value < 1 else f"{value:.2f}"
    return str(value)


def print_summary(result: Any, stream: Any = None) -> None:
    stream = stream or sys.stdout
    columns = ["runs", "failed", "overall", "step a", "step b", "step c", "avg s", "tokens", "cost $"]
    rows = [(name, s) for name, s in result.summary_by("permutation_name").items()] + [("(all)", result.summary)]
    table = [
        [name, _fmt(s["total_test_cases"]), _fmt(s["failed_cases"]), _fmt(s["overall_accuracy"], True),
         _fmt(s["accuracy_step_a"], True), _fmt(s["accuracy_step_b"], True), _fmt(s["accuracy_step_c"], True),
         _fmt(s["average_response_time_sec"]), _fmt(s["total_llm_tokens_used"]), _fmt(s["total_llm_api_cost"])]
        for name, s in rows
    ]
    header = ["permutation", *columns]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *table)]
    line = "  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths)))
    print(line, file=stream)
    for row in table:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))), file=stream)
    status = "" if result.status == "completed" else f" ({result.status}: {len(result.details)} of {result.planned_runs} runs)"
    print(f"{result.job_name}: wall time {result.total_run_time:.2f} s{status}", file=stream)


def _cmd_run(args: argparse.Namespace) -> int:
    from .core.engine import plan_job, run
    from .export import write_result
    from .tqdm_reporter import TqdmReporter

    plan = plan_job(args.request, provider=args.provider)
    reporter = None if args.quiet else TqdmReporter()
    result = run(plan.request, plan=plan, concurrency=args.concurrency, cache=False if args.no_cache else None,
                 reporter=reporter)
    print_summary(result)
    if args.output:
        path = write_result(result, args.output)
        print(f"wrote {path}")
    if result.status == "cancelled":
        return 130
    overall = result.summary["overall_accuracy"] or 0.0
    if args.fail_under is not None and overall < args.fail_under:
        print(f"permutate: overall accuracy {overall:.1f}% is below --fail-under {args.fail_under:g}%", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    warnings.formatwarning = _format_warning  # type: ignore[assignment]
    warnings.simplefilter("default", PermutateWarning)
    commands = {"run": _cmd_run, "validate": _cmd_validate}
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
