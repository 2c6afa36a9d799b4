"""How often permutate's ``bfcl`` scoring agrees with BFCL's own checker, per category, through the full pipeline.

Needs the ``bfcl-eval`` package (its data and checker; extra ``bfcl``). Its requirements pull in
torch and a dozen SDKs; the checker is pure Python, so install it without them:

    pip install --no-deps bfcl-eval==2026.3.23
    PYTHONPATH=. python benchmarks/bfcl_agreement.py measure [--categories simple_python,...] [--per-kind N]
    PYTHONPATH=. python benchmarks/bfcl_agreement.py sample  [--cases 32] [--per-kind 2]

``measure`` generates candidate answers of every kind (right, alternative, reformatted, wrong,
mistyped, missing, null, extra parameters, reordered / missing / extra parallel calls, a wrong
function, no call where calls were wanted, a call where none was wanted, malformed arguments)
for every case of each category, asks BFCL for each verdict (``ast_checker``, and its relevance
rule), and runs every candidate through the full pipeline: a ``BfclJob`` (BFCL's cases as a
request, each case offered its own functions) whose model is the scripted OpenAI-compatible
server answering with the candidate's tool calls; the scored row's ``passed`` is our verdict.
``sample`` writes ``tests/data/bfcl/sample.json`` (the first ``--cases`` cases of each category
with their candidates and BFCL's verdicts), which tests/core/test_bfcl_conformance.py runs.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from permutate_nb.core.jobs.bfcl_suite import CATEGORIES, check_categories, read_entries
from permutate_nb.testing.bfcl import bfcl_verdict, candidates, load_checker, pipeline_verdicts
from permutate_nb.testing.scripted_server import ScriptedOpenAIServer

SAMPLE = Path(__file__).resolve().parent.parent / "tests" / "data" / "bfcl" / "sample.json"
CHUNK = 2500  # candidates per job: the scripted server matches rules one by one


def _with_verdicts(checker: Any, entries: list[dict[str, Any]], per_kind: int | None) -> list[dict[str, Any]]:
    for entry in entries:
        entry["candidates"] = []
        for cand in candidates(entry, per_kind=per_kind):
            valid, error = bfcl_verdict(checker, entry, cand["calls"])
            entry["candidates"].append({**cand, "bfcl_valid": valid, "bfcl_error_type": error})
    return entries


def _chunks(entries: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    out: list[list[dict[str, Any]]] = [[]]
    size = 0
    for entry in entries:
        if size + len(entry["candidates"]) > CHUNK and out[-1]:
            out.append([])
            size = 0
        out[-1].append(entry)
        size += len(entry["candidates"])
    return out


def measure(categories: list[str], per_kind: int | None) -> int:
    os.environ.setdefault("OPENAI_API_KEY", "scripted")  # the scripted server takes any key
    checker = load_checker()
    if checker is None:
        print("bfcl-eval is not installed: run  pip install --no-deps bfcl-eval==2026.3.23")
        return 2
    print(f"bfcl-eval {importlib.metadata.version('bfcl_eval')}; candidates per kind per call: {per_kind or 'all'}")
    print(f"{'category':24} {'cases':>6} {'candidates':>10} {'BFCL valid':>10} {'agree':>8} {'agreement':>9}")
    all_total = all_agree = 0
    disagreements: list[Any] = []
    with ScriptedOpenAIServer() as server, tempfile.TemporaryDirectory() as folder:
        for category in categories:
            entries = _with_verdicts(checker, read_entries(category), per_kind)
            total = agree = valid = 0
            kinds: Counter[str] = Counter()
            started = time.perf_counter()
            for chunk in _chunks(entries):
                rows = pipeline_verdicts(chunk, server, folder=Path(folder))
                for entry in chunk:
                    for i, cand in enumerate(entry["candidates"]):
                        row = rows[f"{entry['id']}~{i}"]
                        total += 1
                        valid += cand["bfcl_valid"]
                        if row.passed == cand["bfcl_valid"]:
                            agree += 1
                        else:
                            kinds[cand["kind"]] += 1
                            disagreements.append((entry["id"], cand["kind"], cand["calls"], cand["bfcl_valid"],
                                                  cand["bfcl_error_type"], row.parameter_mismatches, row.error))
            all_total += total
            all_agree += agree
            print(f"{category:24} {len(entries):6} {total:10} {valid:10} {agree:8} {100 * agree / total:8.2f}%"
                  f"  ({time.perf_counter() - started:.0f} s){'  disagree: ' + dict(kinds).__repr__() if kinds else ''}")
            sys.stdout.flush()
    print(f"{'all':24} {'':6} {all_total:10} {'':10} {all_agree:8} {100 * all_agree / all_total:8.2f}%")
    for item in disagreements[:40]:
        print("  disagree:", json.dumps(item, default=str)[:400])
    return 0


def write_sample(cases: int, per_kind: int | None) -> int:
    checker = load_checker()
    if checker is None:
        print("bfcl-eval is not installed: run  pip install --no-deps bfcl-eval==2026.3.23")
        return 2
    out = []
    for category in CATEGORIES:
        out += _with_verdicts(checker, read_entries(category, limit=cases), per_kind)
    head = {"source": f"bfcl-eval {importlib.metadata.version('bfcl_eval')} (Apache-2.0), the first {cases} cases "
                      f"of each of {', '.join(CATEGORIES)}",
            "made_by": f"PYTHONPATH=. python benchmarks/bfcl_agreement.py sample --cases {cases} --per-kind {per_kind}"}
    lines = ",\n".join(json.dumps(case, ensure_ascii=False) for case in out)  # one case a line: reviewable diffs
    SAMPLE.parent.mkdir(parents=True, exist_ok=True)
    SAMPLE.write_text(json.dumps(head)[:-1] + ',\n"cases": [\n' + lines + "\n]}\n", encoding="utf-8")
    n = sum(len(c["candidates"]) for c in out)
    print(f"wrote {SAMPLE}: {len(out)} cases, {n} candidates, "
          f"{sum(x['bfcl_valid'] for c in out for x in c['candidates'])} valid by BFCL")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("measure", "sample"))
    parser.add_argument("--categories", default=",".join(CATEGORIES), help="measure: comma-separated (default: all 13)")
    parser.add_argument("--per-kind", type=int, default=None, help="at most N candidates of each kind per case")
    parser.add_argument("--cases", type=int, default=32, help="sample: the first N cases of each category")
    args = parser.parse_args(argv)
    if args.what == "measure":
        return measure(check_categories(args.categories.split(",")), args.per_kind)
    return write_sample(args.cases, args.per_kind if args.per_kind is not None else 2)


if __name__ == "__main__":
    raise SystemExit(main())
