"""Throughput and client overhead of the engine against a local OpenAI-compatible server.

The server (``permutate_nb.testing.scripted_server``, aiohttp.web) runs in its own process and
answers every chat call with a tool call after ``--delay`` seconds, so the ideal wall time
of a job is ``runs x delay / concurrency``. We report:

- efficiency = ideal wall time / measured wall time of the job (target >= 0.85)
- client CPU per run: user + system CPU of this whole process during the job (target <= 1.5 ms)
- the wall time (and CPU) of a fully cached re-run (target < 1.5 s for 20,000 runs)
- peak RSS of this process (target < 300 MB, flat from 20,000 to 1,000,000 runs)
- with ``--export``, the time to write the result as Parquet (target < 10 s a million rows) and CSV (< 30 s)

Usage::

    python benchmarks/throughput.py                       # 2,000 runs, concurrency 32, 50 ms
    python benchmarks/throughput.py --runs 20000          # the scaling point
    python benchmarks/throughput.py --transport sdk       # the same through the openai SDK
    python benchmarks/throughput.py --runs 20000 --concurrency 64 --delay 0 --permutations 10 --repeats 20
    python benchmarks/throughput.py --scale               # 20k, 200k, 1M runs at once, 20k at 50 ms (fresh processes)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TEST_CASES = 20


def start_server(delay: float, script: dict[str, Any] | None = None) -> tuple[subprocess.Popen[str], str]:
    """The scripted server in its own process (its CPU is not the client's); returns it and its base URL."""
    script = script or {"default": {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}}}
    script_file = Path(tempfile.mkdtemp()) / "script.json"
    script_file.write_text(json.dumps(script))
    proc = subprocess.Popen(
        [sys.executable, "-m", "permutate_nb.testing.scripted_server", "--port", "0",
         "--script", str(script_file), "--delay", str(delay)],
        stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def build_request(base_url: str, runs: int, concurrency: int, transport: str = "http", permutations: int = 1,
                  repeats: int | None = None) -> dict[str, Any]:
    """``permutations`` x test cases x ``repeats`` runs (default: 20 test cases, the rest repeats)."""
    import permutate_nb

    manifest = str(Path(permutate_nb.__file__).parent / "examples" / "snapshots" / "Klarna_Shopping.json")
    url = "https://www.klarna.com/us/shopping/public/openai/v0/products"
    repeats = repeats or max(runs // (TEST_CASES * permutations), 1)
    cases = max(runs // (repeats * permutations), 1)
    return {
        "name": "benchmark",
        "config": {"concurrency": concurrency, "repeats": repeats, "max_retries": 0},
        "plugin_groups": [{"name": "g", "plugins": [{"manifest_url": manifest}]}],
        "permutations": [{
            "name": f"p{p}",
            "llm": {"provider": "OpenAIChat", "model_name": "gpt-4o-mini", "temperature": p / 10, "base_url": base_url,
                    "transport": transport},
            "tool_selector": {"provider": "OpenAI", "plugin_group_name": "g"},
        } for p in range(permutations)],
        "test_cases": [
            {"name": f"case{i}", "type": "api_signature_selector", "prompt": f"Show me {i + 1} T shirts from Klarna",
             "expected_plugin_used": manifest, "expected_api_used": url, "expected_method": "get",
             "expected_parameters": {"q": "T shirt", "size": 5}}
            for i in range(cases)
        ],
    }


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def measure(runs: int, concurrency: int, delay: float, transport: str = "http", *, permutations: int = 1,
            repeats: int | None = None, cached: bool = True, export: bool = False) -> dict[str, Any]:
    os.environ.setdefault("PERMUTATE_HOME", tempfile.mkdtemp(prefix="permutate-bench-"))
    os.environ.setdefault("PERMUTATE_URL_MAP", str(ROOT / "permutate_nb/examples/snapshots/url_map.yaml"))
    import permutate_nb as pn

    server, base_url = start_server(delay)
    try:
        request = build_request(base_url, runs, concurrency, transport, permutations, repeats)
        plan = pn.plan_job(request)
        pn.run(build_request(base_url, TEST_CASES, concurrency, transport), cache=False)  # warm-up: imports, connections
        cpu0, t0 = cpu_seconds(), time.perf_counter()
        result = pn.run(plan, cache=True)  # fills the cache as a real first run does
        wall = time.perf_counter() - t0
        cpu = cpu_seconds() - cpu0
        summary = result.summary
        n = summary["total_test_cases"]
        ideal = n * delay / concurrency
        out: dict[str, Any] = {
            "transport": transport, "runs": n, "passed": summary["passed_cases"], "concurrency": concurrency,
            "delay_s": delay, "wall_s": round(wall, 3), "ideal_s": round(ideal, 3), "efficiency": round(ideal / wall, 3),
            "client_cpu_ms_per_run": round(cpu / n * 1000, 3), "peak_rss_mb": peak_rss_mb(),
        }
        if cached:
            cpu1, t1 = cpu_seconds(), time.perf_counter()
            again = pn.run(plan, cache=True)
            out["cached_rerun_s"] = round(time.perf_counter() - t1, 3)
            out["cached_rerun_cpu_s"] = round(cpu_seconds() - cpu1, 3)  # on a shared machine, steadier than wall
            out["cached_runs"] = again.summary["cached_runs"]
            out["peak_rss_mb_after_rerun"] = peak_rss_mb()
        if export:
            folder = Path(tempfile.mkdtemp(prefix="permutate-export-"))
            for suffix in (".parquet", ".csv"):
                t2 = time.perf_counter()
                path = result.write(folder / f"result{suffix}")
                out[f"write{suffix.replace('.', '_')}_s"] = round(time.perf_counter() - t2, 2)
                out[f"write{suffix.replace('.', '_')}_mb"] = round(path.stat().st_size / 1e6, 1)
                path.unlink()
            out["peak_rss_mb_after_exports"] = peak_rss_mb()
        return out
    finally:
        server.terminate()
        server.wait(10)


def _fresh(args: list[str]) -> dict[str, Any]:
    """One measurement in a fresh process (its peak RSS is its own)."""
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def scale() -> None:
    """20,000, 200,000 and 1,000,000 runs against the server answering at once (concurrency 64; 10
    permutations x 20 repeats x 100 / 1,000 / 5,000 test cases), then 20,000 runs at 50 ms, concurrency 32."""
    rows = []
    for runs in (20_000, 200_000, 1_000_000):
        extra = ["--no-cached"] if runs > 20_000 else []
        extra += ["--export"] if runs == 1_000_000 else []
        rows.append(_fresh(["--runs", str(runs), "--concurrency", "64", "--delay", "0", "--permutations", "10",
                            "--repeats", "20", *extra]))
        print(json.dumps(rows[-1]), flush=True)
    rows.append(_fresh(["--runs", "20000", "--concurrency", "32", "--delay", "0.05", "--permutations", "10",
                        "--repeats", "20", "--no-cached"]))
    print(json.dumps(rows[-1]), flush=True)
    keys = list(dict.fromkeys(k for row in rows for k in row))
    print(" | ".join(keys))
    for row in rows:
        print(" | ".join(str(row.get(k, "-")) for k in keys))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--transport", choices=["http", "sdk"], default="http", help="llm.transport to measure")
    parser.add_argument("--permutations", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=None, help="default: 20 test cases, the rest repeats")
    parser.add_argument("--no-cached", dest="cached", action="store_false", help="skip the cached re-run")
    parser.add_argument("--export", action="store_true", help="also time writing the result as Parquet and CSV")
    parser.add_argument("--scale", action="store_true", help="20k, 200k and 1M runs, and 20k at 50 ms, each in a fresh process")
    args = parser.parse_args()
    if args.scale:
        scale()
        return
    print(json.dumps(measure(args.runs, args.concurrency, args.delay, args.transport, permutations=args.permutations,
                             repeats=args.repeats, cached=args.cached, export=args.export)))


if __name__ == "__main__":
    main()
