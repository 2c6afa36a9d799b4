"""The seconds the test suite no longer asserts: planning, loading, refusing and deadlines.

The tests check what cannot be fooled by a busy machine (work that grows linearly, memory,
rows not read, replies not waited for); the wall-clock figures live here, measured on one
machine at one time, so they can be quoted with the command that produced them:

    PYTHONPATH=. python benchmarks/planning.py                  # all figures, best of 3 each
    PYTHONPATH=. python benchmarks/planning.py --realworld tests/data/realworld

Each figure is the best of ``--repeat`` runs in this process (the first run pays the imports).
Print ``uptime`` next to the figures: on 2 shared cores they move with the load.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import permutate_nb as pn  # noqa: E402
from tests.helpers import klarna_cases_request, klarna_request, stored_job_of  # noqa: E402

CLOSED = "http://127.0.0.1:9/v1"  # a port nothing listens on: planning calls no model


def best(work: Callable[[], Any], repeat: int) -> float:
    """The fastest of ``repeat`` wall-clock runs of ``work``, in seconds."""
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return min(times)


def planning(folder: Path, repeat: int) -> dict[str, float]:
    """``pn.validate`` of 20,000 test cases from JSON and from YAML; ``pn.load_dataset`` of 40,000 cases."""
    data = klarna_cases_request(CLOSED, 20_000)
    as_json, as_yaml = folder / "big.json", folder / "big.yaml"
    as_json.write_text(json.dumps(data))
    as_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
    cases = [{"id": f"c{i}", "input": f"question {i}"} for i in range(40_000)]
    return {"validate 20,000 cases (JSON)": best(lambda: pn.validate(as_json), repeat),
            "validate 20,000 cases (YAML)": best(lambda: pn.validate(as_yaml), repeat),
            "load_dataset 40,000 cases": best(lambda: pn.load_dataset(cases), repeat)}


def bfcl_planning(folder: Path, repeat: int) -> dict[str, float]:
    """Planning tests/core/test_bfcl_conformance.py's job: every candidate of the BFCL sample is a case, and
    every case's functions are operations of one generated plugin (so a lookup per case must not scan them)."""
    from permutate_nb.core.jobs.bfcl_suite import build_request
    from permutate_nb.core.jobs.permutate import plan_job

    cases = json.loads((ROOT / "tests/data/bfcl/sample.json").read_text(encoding="utf-8"))["cases"]
    entries = [{**case, "id": f"{case['id']}~{i}"} for case in cases for i, _ in enumerate(case["candidates"])]
    llm = {"provider": "OpenAIChat", "model_name": "m", "temperature": 0, "base_url": CLOSED}
    permutation = {"name": "p", "llm": llm, "tool_selector": {"provider": "OpenAI", "plugin_group_name": "bfcl"}}
    request = build_request(entries, [permutation], config={"cache": False}, folder=folder / "bfcl")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pn.PermutateWarning)  # the sample's deliberately impossible candidates
        return {f"plan a BFCL job of {len(entries):,} cases": best(lambda: plan_job(request), repeat)}


def refusals(folder: Path, repeat: int) -> dict[str, float]:
    """How long a hostile request takes to be refused: a YAML alias bomb, JSON nested 100,000 deep."""
    bomb = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    text = yaml.safe_dump(klarna_request()).replace("expected_parameters:", "expected_parameters: *i\n    old_parameters:")
    (folder / "bomb.yaml").write_text(bomb + text)
    (folder / "deep.json").write_text('{"name": ' + "[" * 100_000 + "]" * 100_000 + "}")

    def refused(path: Path) -> Callable[[], None]:
        def load() -> None:
            try:
                pn.load_request(path)
            except pn.RequestError:
                return
            raise AssertionError(f"{path.name} was accepted")
        return load

    return {"refuse a YAML alias bomb": best(refused(folder / "bomb.yaml"), repeat),
            "refuse JSON nested 100,000 deep": best(refused(folder / "deep.json"), repeat)}


def xlsx_refusal(folder: Path, repeat: int) -> dict[str, float]:
    """``result.write("x.xlsx")`` of a stored job of 1,048,576 rows: refused before reading them."""
    from permutate_nb.core.jobs.kinds import results
    from permutate_nb.core.store.job_store import JobStore
    from permutate_nb.export.details import XLSX_MAX_ROWS

    store = JobStore(folder / "jobs.sqlite")
    result = results(stored_job_of(store, XLSX_MAX_ROWS), store=store)

    def refuse() -> None:
        try:
            result.write(folder / "big.xlsx")
        except pn.ConfigurationError:
            return
        raise AssertionError("the XLSX was written")

    return {"refuse 1,048,576 rows as XLSX": best(refuse, repeat)}


def deadline_overshoot(repeat: int) -> dict[str, float]:
    """Seconds past ``EXECUTION_TIMEOUT=0.5`` a batch row ends when its reply never comes."""
    from permutate_nb.testing.scripted_server import ScriptedOpenAIServer

    os.environ["EXECUTION_TIMEOUT"] = "0.5"
    overshoot = []
    with ScriptedOpenAIServer({"default": {"text": "late", "hold": True}}) as server:
        models = {"m": {"model_name": "gpt-4o-mini", "base_url": server.base_url}}
        for _ in range(repeat):
            frame = pn.batch([{"prompt": "slow", "model": "m"}], models=models, cache=False).to_pandas()
            overshoot.append(float(frame.loc[0, "duration_sec"]) - 0.5)
        server.release()
    del os.environ["EXECUTION_TIMEOUT"]
    return {"a batch row past EXECUTION_TIMEOUT=0.5 (overshoot)": min(overshoot)}


def large_specs(realworld: Path, repeat: int) -> dict[str, float]:
    """Loading each large real-world OpenAPI document and building its tools (tests/core/test_realworld.py)."""
    from permutate_nb.core.plugins.fetch import UrlMap
    from permutate_nb.core.plugins.loader import PluginLoader
    from permutate_nb.core.plugins.tools import build_toolset

    figures = {}
    for relative in ("large/qdrant/openapi.json", "large/openai/openapi.yaml"):
        def load() -> None:
            cache = Path(tempfile.mkdtemp(prefix="permutate-bench-"))
            build_toolset([PluginLoader(UrlMap({}, base_dir=realworld), cache_dir=cache).load(str(realworld / relative))])
        figures[f"load {relative} and build its tools"] = best(load, repeat)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--realworld", type=Path, default=ROOT / "tests" / "data" / "realworld",
                        help="the real-world documents (skipped when the folder is missing)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="permutate-planning-"))
    os.environ.setdefault("PERMUTATE_HOME", str(folder / "home"))
    os.environ.setdefault("OPENAI_API_KEY", "unused")
    os.environ.setdefault("PERMUTATE_URL_MAP", str(ROOT / "permutate_nb/examples/snapshots/url_map.yaml"))
    figures = {**planning(folder, args.repeat), **bfcl_planning(folder, args.repeat), **refusals(folder, args.repeat),
               **xlsx_refusal(folder, args.repeat),
               **deadline_overshoot(args.repeat)}
    if args.realworld.is_dir():
        figures.update(large_specs(args.realworld, args.repeat))
    width = max(map(len, figures))
    for name, seconds in figures.items():
        print(f"{name:<{width}}  {seconds:7.3f} s")
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
