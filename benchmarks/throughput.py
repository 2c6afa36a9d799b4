"""Throughput and client overhead of the engine against a local OpenAI-compatible server.

The server (``permutate_nb.testing.scripted_server``, asyncio) runs in its own process and
answers every chat call with a tool call after ``--delay`` seconds, so the ideal wall time
of a job is ``runs x delay / concurrency``. We report:

- efficiency = ideal wall time / measured wall time of the job (target >= 0.85)
- client CPU per run: user + system CPU of this whole process during the job (target <= 1.5 ms)
- the wall time of a fully cached re-run (target < 2 s for 2,000 runs)
- peak RSS of this process

Usage::

    python benchmarks/throughput.py                       # 2,000 runs, concurrency 32, 50 ms
    python benchmarks/throughput.py --runs 20000          # the scaling point
    python benchmarks/throughput.py --transport sdk       # the same through the openai SDK
    python benchmarks/throughput.py --scale               # 2,000 and 20,000 runs, and the SDK, each in a fresh process
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


def build_request(base_url: str, runs: int, concurrency: int, transport: str = "http") -> dict[str, Any]:
    import permutate_nb

    manifest = str(Path(permutate_nb.__file__).parent / "examples" / "snapshots" / "Klarna_Shopping.json")
    url = "https://www.klarna.com/us/shopping/public/openai/v0/products"
    return {
        "name": "benchmark",
        "config": {"concurrency": concurrency, "repeats": max(runs // TEST_CASES, 1), "max_retries": 0},
        "plugin_groups": [{"name": "g", "plugins": [{"manifest_url": manifest}]}],
        "permutations": [{
            "name": "p",
            "llm": {"provider": "OpenAIChat", "model_name": "gpt-4o-mini", "temperature": 0, "base_url": base_url,
                    "transport": transport},
            "tool_selector": {"provider": "OpenAI", "plugin_group_name": "g"},
        }],
        "test_cases": [
            {"name": f"case{i}", "type": "api_signature_selector", "prompt": f"Show me {i + 1} T shirts from Klarna",
             "expected_plugin_used": manifest, "expected_api_used": url, "expected_method": "get",
             "expected_parameters": {"q": "T shirt", "size": 5}}
            for i in range(TEST_CASES)
        ],
    }


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(runs: int, concurrency: int, delay: float, transport: str = "http") -> dict[str, Any]:
    os.environ.setdefault("PERMUTATE_HOME", tempfile.mkdtemp(prefix="permutate-bench-"))
    os.environ.setdefault("PERMUTATE_URL_MAP", str(ROOT / "permutate_nb/examples/snapshots/url_map.yaml"))
    import permutate_nb as pn

    server, base_url = start_server(delay)
    try:
        request = build_request(base_url, runs, concurrency, transport)
        plan = pn.plan_job(request)
        pn.run(build_request(base_url, TEST_CASES, concurrency, transport), cache=False)  # warm-up: imports, connections
        cpu0, t0 = cpu_seconds(), time.perf_counter()
        result = pn.run(request, plan=plan, cache=True)  # fills the cache as a real first run does
        wall = time.perf_counter() - t0
        cpu = cpu_seconds() - cpu0
        ok = sum(d.passed for d in result.details)
        t1 = time.perf_counter()
        cached = pn.run(request, plan=plan, cache=True)
        cached_wall = time.perf_counter() - t1
        n = len(result.details)
        ideal = n * delay / concurrency
        return {
            "transport": transport,
            "runs": n,
            "passed": ok,
            "concurrency": concurrency,
            "delay_s": delay,
            "wall_s": round(wall, 3),
            "ideal_s": round(ideal, 3),
            "efficiency": round(ideal / wall, 3),
            "client_cpu_ms_per_run": round(cpu / n * 1000, 3),
            "cached_rerun_s": round(cached_wall, 3),
            "cached_runs": sum(d.cached for d in cached.details),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--transport", choices=["http", "sdk"], default="http", help="llm.transport to measure")
    parser.add_argument("--scale", action="store_true", help="measure 2,000 and 20,000 runs in fresh processes")
    args = parser.parse_args()
    if not args.scale:
        print(json.dumps(measure(args.runs, args.concurrency, args.delay, args.transport)))
        return
    rows = []
    for runs, transport in ((2000, "http"), (20000, "http"), (2000, "sdk")):
        out = subprocess.run([sys.executable, __file__, "--runs", str(runs), "--concurrency", str(args.concurrency),
                              "--delay", str(args.delay), "--transport", transport],
                             capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    keys = list(rows[0])
    print(" | ".join(keys))
    for row in rows:
        print(" | ".join(str(row[k]) for k in keys))


if __name__ == "__main__":
    main()
