"""The embedded model: in-process llama.cpp against llama.cpp's own server, same GGUF and prompt.

Reports generation speed (completion tokens / wall time of the call) for both, their ratio
(target: in-process >= 0.9x the server), and the seconds per tool-selection run of the
shipped example request on ``--provider local``. Both sides use the same thread count.

    python benchmarks/local_model.py
    python benchmarks/local_model.py --threads   # one thread against every core, alternating, at today's load
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
PROMPT = [{"role": "user", "content": "Write a short story about a robot who learns to paint."}]
PARAMS = {"temperature": 0.0, "max_tokens": 128, "repeat_penalty": 1.0}
TRIALS = 5


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def in_process(path: str, threads: int) -> list[float]:
    from llama_cpp import Llama

    model = Llama(model_path=path, n_ctx=2048, n_threads=threads, verbose=False)
    model.create_chat_completion(messages=PROMPT, **{**PARAMS, "max_tokens": 8})  # warm-up
    speeds = []
    for _ in range(TRIALS):
        t0 = time.perf_counter()
        reply = model.create_chat_completion(messages=PROMPT, **PARAMS)
        speeds.append(reply["usage"]["completion_tokens"] / (time.perf_counter() - t0))
    model.close()
    return speeds


def via_server(path: str, threads: int) -> list[float]:
    port = _port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", path, "--host", "127.0.0.1", "--port", str(port),
         "--n_ctx", "2048", "--n_threads", str(threads)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    try:
        for _ in range(300):
            try:
                httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        body = {"model": "m", "messages": PROMPT, **PARAMS}
        httpx.post(url, json={**body, "max_tokens": 8}, timeout=120)  # warm-up
        speeds = []
        for _ in range(TRIALS):
            t0 = time.perf_counter()
            reply = httpx.post(url, json=body, timeout=120).json()
            speeds.append(reply["usage"]["completion_tokens"] / (time.perf_counter() - t0))
        return speeds
    finally:
        proc.terminate()
        proc.wait(10)


def tool_selection_seconds() -> dict[str, float]:
    env = {**os.environ, "PERMUTATE_HOME": tempfile.mkdtemp(),
           "PERMUTATE_URL_MAP": str(ROOT / "permutate_nb/examples/snapshots/url_map.yaml")}
    out = Path(tempfile.mkdtemp()) / "result.json"
    subprocess.run([sys.executable, "-m", "permutate_nb.cli", "run", str(ROOT / "permutate_nb/examples/klarna_plugin_test.yaml"),
                    "--provider", "local", "--no-cache", "--quiet", "--output", str(out)],
                   env=env, check=True, capture_output=True)
    data = json.loads(out.read_text())
    rows = data["details"]
    return {
        "runs": len(rows),
        "mean_s_per_run": round(statistics.mean(r["response_time_sec"] for r in rows), 3),
        "max_s_per_run": round(max(r["response_time_sec"] for r in rows), 3),
        "job_wall_s": data["summary"]["total_run_time"],
        "overall_accuracy": data["summary"]["overall_accuracy"],
    }


def threads_compared(path: str, pairs: int = 2) -> dict[str, object]:
    """Seconds for 40 tokens with one thread and with every core, alternating: on a busy machine
    llama.cpp's threads wait for each other, which is why the embedded model drops to one thread there."""
    from llama_cpp import Llama

    cores = os.cpu_count() or 1
    seconds: dict[int, list[float]] = {1: [], cores: []}
    for _ in range(pairs):
        for n in (1, cores):
            model = Llama(model_path=path, n_ctx=1024, n_threads=n, n_threads_batch=n, verbose=False)
            started = time.perf_counter()
            model.create_chat_completion(messages=PROMPT, **{**PARAMS, "max_tokens": 40})
            seconds[n].append(round(time.perf_counter() - started, 2))
    return {"load_average": os.getloadavg()[0], "seconds_for_40_tokens": {str(n): s for n, s in seconds.items()}}


def main() -> None:
    from permutate_nb.core.llm.local import default_model_path

    path = str(default_model_path())
    if sys.argv[1:] == ["--threads"]:
        print(json.dumps(threads_compared(path)))
        return
    threads = os.cpu_count() or 1
    local = statistics.median(in_process(path, threads))
    server = statistics.median(via_server(path, threads))
    print(json.dumps({
        "threads": threads,
        "in_process_tokens_per_s": round(local, 1),
        "server_tokens_per_s": round(server, 1),
        "ratio": round(local / server, 3),
        "tool_selection": tool_selection_seconds(),
    }))


if __name__ == "__main__":
    main()
