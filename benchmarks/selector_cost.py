"""Client cost per run of each selector against a local OpenAI-compatible server.

The scripted server (its own process) answers after ``--delay`` seconds: a tool call for
function calling and LangChain tool calling, a ReAct ``Action`` for the text agent, a
``GET URL?query`` line for prompt selection on the completions endpoint. Each selector
runs ``--runs`` runs at ``--concurrency`` after a warm-up job (imports, connections), with
the cache and the job store off. We report wall time, efficiency (ideal / wall, ideal =
runs x delay / concurrency) and client CPU per run (user + system of this process).

    python benchmarks/selector_cost.py                  # 400 runs, concurrency 32, 20 ms
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import build_request, cpu_seconds, start_server  # noqa: E402 - shared with the throughput benchmark

URL = "https://www.klarna.com/us/shopping/public/openai/v0/products"
SCRIPT = {
    "rules": [
        {"match": "Question:", "responses": [{"text": 'Search.\nAction: productsUsingGET\nAction Input: {"q": "T shirt", "size": 5}'}]},
        {"match": "Request:", "responses": [{"text": f"GET {URL}?q=T%20shirt&size=5"}]},
    ],
    "default": {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}},
}
SELECTORS = {
    "OpenAI (function calling, http)": ("OpenAIChat", {"provider": "OpenAI", "pipeline_name": "default"}),
    "OpenAI on completions (prompt)": ("OpenAI", {"provider": "OpenAI", "pipeline_name": "default"}),
    "Langchain tool-calling": ("OpenAIChat", {"provider": "Langchain", "pipeline_name": "tool-calling"}),
    "Langchain zero-shot-react-description": ("OpenAIChat", {"provider": "Langchain", "pipeline_name": "zero-shot-react-description"}),
}


def request_for(base_url: str, runs: int, concurrency: int, provider: str, selector: dict[str, str]) -> dict[str, Any]:
    request = copy.deepcopy(build_request(base_url, runs, concurrency))
    request["config"]["cache"] = False
    perm = request["permutations"][0]
    perm["llm"]["provider"] = provider
    if provider == "OpenAI":
        perm["llm"]["model_name"] = "gpt-3.5-turbo-instruct"
    perm["tool_selector"] = {**selector, "plugin_group_name": "g"}
    return request


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--delay", type=float, default=0.02)
    args = parser.parse_args()
    os.environ.setdefault("PERMUTATE_HOME", tempfile.mkdtemp(prefix="permutate-bench-"))
    os.environ.setdefault("OPENAI_API_KEY", "bench")
    from permutate_nb.core.api import run_async

    proc, base_url = start_server(args.delay, SCRIPT)
    try:
        print(f"{'selector':40} {'runs':>5} {'wall s':>7} {'efficiency':>10} {'CPU ms/run':>10} {'passed':>7}")
        for label, (provider, selector) in SELECTORS.items():
            asyncio.run(run_async(request_for(base_url, 40, args.concurrency, provider, selector), store=False))
            request = request_for(base_url, args.runs, args.concurrency, provider, selector)
            cpu0, t0 = cpu_seconds(), time.perf_counter()
            result = asyncio.run(run_async(request, store=False))
            wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
            n = len(result.details)
            ideal = n * args.delay / args.concurrency
            print(f"{label:40} {n:>5} {wall:>7.2f} {ideal / wall:>10.2f} {cpu / n * 1000:>10.2f} "
                  f"{result.summary['overall_accuracy']:>6.0f}%")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
