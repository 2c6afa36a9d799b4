"""Client cost of a large tool offer: 500 tools from 5 MCP servers (100 each, over stdio).

Each server is this file run as ``--serve N``: a FastMCP (``MCPServer``) server whose 100 tools have
2-5 typed parameters with descriptions, like real API wrappers. We measure, in this process:

- planning: starting the 5 servers, ``initialize`` + ``tools/list``, stopping them (wall time);
- tool schema building: ``build_toolset`` over the 500 operations (best of 5), the tools JSON's size,
  and its tokens (the embedded model's SmolLM2 tokenizer, offline, over the JSON the request carries:
  an estimate of what the offer adds to every prompt; OpenAI's tokenizer and its own rendering of
  function definitions give other counts);
- client CPU per run of a job offering all 500 tools against the scripted model server (its own
  process, answering at once), next to the same job offering 5 tools.

    python benchmarks/tool_offer.py                     # 400 runs each, concurrency 32
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

SERVERS, TOOLS_EACH = 5, 100
_TYPES = ("str", "int", "float", "bool")


def serve(index: int) -> None:
    """An MCP server with ``TOOLS_EACH`` generated tools (over stdio)."""
    from mcp.server.mcpserver import MCPServer

    server = MCPServer(f"bench{index}")
    for t in range(TOOLS_EACH):
        params = [f"p{k}_{t % 7}: {_TYPES[(t + k) % 4]}" for k in range(2 + t % 4)]
        doc = (f"Operation {t} of service {index}: look up records of kind {t % 13} filtered by the given fields "
               "and return them sorted by relevance.")
        namespace: dict[str, Any] = {}
        exec(f"def tool_{index}_{t}({', '.join(params)}) -> str:\n    {doc!r}\n    return 'ok'\n", namespace)  # noqa: S102
        server.add_tool(namespace[f"tool_{index}_{t}"])
    server.run()


def request(base_url: str, runs: int, concurrency: int, servers: int) -> dict[str, Any]:
    plugins = [{"name": f"svc{i}", "mcp": {"command": [sys.executable, __file__, "--serve", str(i)]}} for i in range(servers)]
    return {
        "name": "tool_offer", "config": {"cache": False, "max_retries": 0, "concurrency": concurrency, "repeats": runs // 20,
                                         "timeout_sec": 120},
        "plugin_groups": [{"name": "g", "plugins": plugins}],
        "permutations": [{"name": "p", "llm": {"provider": "OpenAIChat", "model_name": "gpt-4o-mini", "temperature": 0,
                                               "base_url": base_url},
                          "tool_selector": {"provider": "OpenAI", "plugin_group_name": "g"}}],
        "test_cases": [{"name": f"c{i}", "type": "plugin_selector", "prompt": f"find records of kind {i}",
                        "expected_plugin_used": "svc0", "expected_api_used": "tool_0_3"} for i in range(20)],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return
    os.environ.setdefault("PERMUTATE_HOME", tempfile.mkdtemp(prefix="permutate-bench-"))
    os.environ.setdefault("OPENAI_API_KEY", "bench")
    from throughput import cpu_seconds, start_server

    import permutate_nb as pn
    from permutate_nb.core.jobs.permutate import plan_job
    from permutate_nb.core.plugins.tools import build_toolset

    script = {"default": {"tool_call": {"name": "tool_0_3", "arguments": {"p0_3": "x"}}}}
    proc, base_url = start_server(0.0, script)
    try:
        t0 = time.perf_counter()
        plan = plan_job(request(base_url, args.runs, args.concurrency, SERVERS))
        planning = time.perf_counter() - t0
        plugins = list(plan.plugins.values())
        best = min(_timed(lambda: build_toolset(plugins)) for _ in range(5))
        toolset = plan.toolsets["g"]
        from llama_cpp import Llama

        from permutate_nb.core.llm.local import default_model_path

        vocab = Llama(model_path=str(default_model_path()), vocab_only=True, verbose=False)
        tokens = len(vocab.tokenize(toolset.tools_json.encode("utf-8"), add_bos=False))
        print(f"{len(toolset)} tools from {SERVERS} MCP servers: planning (start, initialize, tools/list, stop) "
              f"{planning:.2f} s; build_toolset {best * 1000:.1f} ms; tools JSON {len(toolset.tools_json) / 1024:.0f} KB, "
              f"{tokens:,} tokens (SmolLM2 tokenizer)")
        few = request(base_url, args.runs, args.concurrency, SERVERS)
        few_plan = plan_job(few)
        small = build_toolset(list(few_plan.plugins.values())[:1])
        small.tools, small.by_name = small.tools[:5], dict(list(small.by_name.items())[:5])
        import hashlib
        import json

        small.tools_json = json.dumps(small.tools, separators=(",", ":"), sort_keys=True)
        small.digest = hashlib.sha256(small.tools_json.encode()).hexdigest()
        for label, offer in (("5 tools", small), (f"{len(toolset)} tools", toolset)):
            few_plan.toolsets["g"] = offer
            pn.run(few, plan=few_plan, store=False)  # warm-up: imports, connections
            c0, w0 = cpu_seconds(), time.perf_counter()
            result = pn.run(few, plan=few_plan, store=False)
            cpu, wall = cpu_seconds() - c0, time.perf_counter() - w0
            runs = result.summary["total_test_cases"]
            print(f"{label}: {runs} runs, client CPU {cpu / runs * 1000:.2f} ms per run, wall {wall:.2f} s, "
                  f"accuracy {result.summary['overall_accuracy']}%")
    finally:
        proc.terminate()
        proc.wait(10)


def _timed(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
