"""How often permutate's multi-turn checker agrees with BFCL's ``multi_turn_checker``, per category.

Needs ``bfcl-eval`` and ``mpmath`` (BFCL's MathAPI backend imports it):

    pip install --no-deps bfcl-eval==2026.3.23 mpmath
    PYTHONPATH=. python benchmarks/bfcl_multi_turn_agreement.py measure [--categories multi_turn_base,...] [--limit N]
    PYTHONPATH=. python benchmarks/bfcl_multi_turn_agreement.py sample [--cases 3]
    PYTHONPATH=. python benchmarks/bfcl_multi_turn_agreement.py pipeline [--categories ...] [--kinds right,wrong_argument]

``measure`` makes candidate trajectories of every kind (``permutate_nb.testing.bfcl_multi_turn.
trajectories``: right, right one call per step, wrong call, wrong argument, missing step, extra
harmless step, wrong end state, reordered, empty turn, malformed step, a call in a turn BFCL expects
to fail, cut short, a method call's text in an argument) for every entry of each category, and
counts the candidates where ``core.scoring.bfcl_multi_turn.check_multi_turn`` gives BFCL's verdict
and error type. ``sample`` writes ``tests/data/bfcl/multi_turn_sample.json`` (the first ``--cases``
entries of each category, their candidates and BFCL's verdicts), which
tests/core/test_bfcl_multi_turn_conformance.py runs. ``pipeline`` runs, per kind, one ``BfclJob``
whose model is the scripted OpenAI-compatible server playing that kind's trajectory for every entry
(entries sharing a turn's user message with another are left out: the server tells turns apart by
it), and counts the runs whose verdict is BFCL's on the trajectory the row's transcript records.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from permutate_nb.core.jobs.bfcl_conversation import MULTI_TURN_CATEGORIES, read_multi_turn_entries
from permutate_nb.core.scoring.bfcl_multi_turn import check_multi_turn
from permutate_nb.testing.bfcl_multi_turn import bfcl_multi_turn_verdict, load_multi_turn_checker, trajectories

SAMPLE = Path(__file__).resolve().parent.parent / "tests" / "data" / "bfcl" / "multi_turn_sample.json"
MISSING = "bfcl-eval is not installed: run  pip install --no-deps bfcl-eval==2026.3.23 mpmath"


def measure(categories: list[str], limit: int | None) -> int:
    bfcl = load_multi_turn_checker()
    if bfcl is None:
        print(MISSING)
        return 2
    print(f"bfcl-eval {importlib.metadata.version('bfcl_eval')}")
    print(f"{'category':26} {'entries':>7} {'candidates':>10} {'BFCL valid':>10} {'agree':>7} {'agreement':>9}")
    all_total = all_agree = 0
    disagreements: list[Any] = []
    for category in categories:
        started = time.perf_counter()
        entries = read_multi_turn_entries(category, limit=limit)
        total = agree = valid = 0
        for entry in entries:
            for i, cand in enumerate(trajectories(entry)):
                name = f"m{i}"
                theirs = bfcl_multi_turn_verdict(bfcl, entry, cand["turns"], name)
                ours = check_multi_turn(entry, cand["turns"], entry["ground_truth"], model_name=name)
                total += 1
                valid += theirs[0]
                if (ours.valid, ours.error_type) == theirs:
                    agree += 1
                else:
                    disagreements.append((entry["id"], cand["kind"], theirs, ours.to_dict()))
        all_total += total
        all_agree += agree
        print(f"{category:26} {len(entries):7} {total:10} {valid:10} {agree:7} {100 * agree / total:8.2f}%"
              f"  ({time.perf_counter() - started:.0f} s)")
        sys.stdout.flush()
    print(f"{'all':26} {'':7} {all_total:10} {'':10} {all_agree:7} {100 * all_agree / all_total:8.2f}%")
    for item in disagreements[:40]:
        print("  disagree:", json.dumps(item, default=str)[:400])
    return 0


def pipeline(categories: list[str], kinds: list[str], limit: int | None) -> int:
    import os
    import tempfile

    import permutate_nb as pn
    from permutate_nb.core.jobs.bfcl_conversation import conversation_case, turns_of
    from permutate_nb.testing.bfcl_multi_turn import calls_of, scripted_rules
    from permutate_nb.testing.scripted_server import ScriptedOpenAIServer

    bfcl = load_multi_turn_checker()
    if bfcl is None:
        print(MISSING)
        return 2
    os.environ.setdefault("OPENAI_API_KEY", "scripted")
    os.environ["PERMUTATE_HOME"] = tempfile.mkdtemp()  # a store of its own: nothing cached from earlier runs
    print(f"{'category':26} {'kind':22} {'runs':>5} {'left out':>8} {'as played':>9} {'BFCL valid':>10} {'agree':>6}")
    all_runs = all_agree = 0
    with ScriptedOpenAIServer() as server:
        for category in categories:
            entries = read_multi_turn_entries(category, limit=limit)
            said = Counter(t["user"] for e in entries for t in {x["user"]: x for x in conversation_case(e)["turns"]}.values())
            kept = [e for e in entries if all(said[t["user"]] == 1 for t in conversation_case(e)["turns"])]
            for kind in kinds:
                played = {e["id"]: next((c["turns"] for c in trajectories(e) if c["kind"] == kind), None) for e in kept}
                chosen = [e for e in kept if played[e["id"]] is not None]
                server.set_script({"rules": [r for e in chosen for r in scripted_rules(e, played[e["id"]])],  # type: ignore[arg-type]
                                   "default": {"text": "unscripted"}})
                started = time.perf_counter()
                result = pn.bfcl(category, ["scripted-model"], base_url=server.base_url, limit=limit,
                                 config={"timeout_sec": 600}, cache=False)
                rows = {r.test_case_name: r for r in result.details}
                valid = agree = as_played = 0
                for entry in chosen:
                    row = rows[entry["id"]]
                    recorded = turns_of(row.transcript or [])
                    as_played += calls_of(recorded) == calls_of(played[entry["id"]])  # type: ignore[arg-type]
                    theirs = bfcl_multi_turn_verdict(bfcl, entry, recorded)[0]
                    valid += theirs
                    agree += bool(row.passed) == theirs
                all_runs += len(chosen)
                all_agree += agree
                print(f"{category:26} {kind:22} {len(chosen):5} {len(entries) - len(kept):8} {as_played:9} {valid:10} {agree:6}"
                      f"  ({time.perf_counter() - started:.0f} s)")
                sys.stdout.flush()
    print(f"all: {all_agree} of {all_runs} runs agree ({100 * all_agree / max(all_runs, 1):.2f}%)")
    return 0


def write_sample(cases: int) -> int:
    bfcl = load_multi_turn_checker()
    if bfcl is None:
        print(MISSING)
        return 2
    out = []
    for category in MULTI_TURN_CATEGORIES:
        for entry in read_multi_turn_entries(category, limit=cases):
            candidates = []
            for cand in trajectories(entry):
                valid, error = bfcl_multi_turn_verdict(bfcl, entry, cand["turns"])
                candidates.append({**cand, "bfcl_valid": valid, "bfcl_error_type": error})
            out.append({"id": entry["id"], "candidates": candidates})
    head = {"source": f"bfcl-eval {importlib.metadata.version('bfcl_eval')} (Apache-2.0): candidate trajectories for "
                      f"the first {cases} entries of each of {', '.join(MULTI_TURN_CATEGORIES)} (the entries are read "
                      "from the installed package)",
            "made_by": f"PYTHONPATH=. python benchmarks/bfcl_multi_turn_agreement.py sample --cases {cases}"}
    lines = ",\n".join(json.dumps(case, ensure_ascii=False) for case in out)  # one entry a line: reviewable diffs
    SAMPLE.write_text(json.dumps(head)[:-1] + ',\n"entries": [\n' + lines + "\n]}\n", encoding="utf-8")
    kinds = Counter(c["kind"] for e in out for c in e["candidates"])
    n = sum(kinds.values())
    print(f"wrote {SAMPLE}: {len(out)} entries, {n} candidates "
          f"({sum(c['bfcl_valid'] for e in out for c in e['candidates'])} valid by BFCL), kinds {dict(kinds)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("measure", "sample", "pipeline"))
    parser.add_argument("--kinds", default="right,wrong_argument", help="pipeline: the trajectory kinds played")
    parser.add_argument("--categories", default=",".join(MULTI_TURN_CATEGORIES), help="measure: comma-separated")
    parser.add_argument("--limit", type=int, default=None, help="measure: the first N entries of each category")
    parser.add_argument("--cases", type=int, default=3, help="sample: the first N entries of each category")
    args = parser.parse_args(argv)
    categories = [c.strip() for c in args.categories.split(",") if c.strip()]
    if args.what == "measure":
        return measure(categories, args.limit)
    if args.what == "pipeline":
        return pipeline(categories, [k.strip() for k in args.kinds.split(",") if k.strip()], args.limit)
    return write_sample(args.cases)


if __name__ == "__main__":
    raise SystemExit(main())
