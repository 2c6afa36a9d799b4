"""The HTTP face's overhead: a job through ``POST /api/start-job`` against ``pn.run``, and status polls per second.

The scripted OpenAI-compatible server (its own process) answers every call with a tool call
after ``--delay`` seconds; ``permutate serve`` runs in its own process on 127.0.0.1. The same
request (cache off, so every run calls the model) runs alternately in-process and through
the server; the server's figure is the client's wall time from the POST to the full
start-job response (HTTP and the JSON of every row included). Then, while a longer job runs
on the server, ``GET /api/jobs/{id}`` is polled as fast as one client (and 8 threads) can.

    python benchmarks/serve.py                  # 2,000 runs, concurrency 32, 50 ms, 5 rounds
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from throughput import ROOT, build_request, start_server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_api(home: str, *allow_urls: str) -> tuple[subprocess.Popen[bytes], str]:
    """``permutate serve`` on a free port; ``allow_urls``: the model endpoints the bodies name (``--allow-url``)."""
    port = _free_port()
    snapshots = ROOT / "permutate_nb" / "examples" / "snapshots"
    flags = [arg for url in allow_urls for arg in ("--allow-url", url)]
    proc = subprocess.Popen([sys.executable, "-m", "permutate_nb.cli", "serve", "--port", str(port),
                             "--allow-dir", str(snapshots), *flags], env={**os.environ, "PERMUTATE_HOME": home},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError("permutate serve did not start")
        time.sleep(0.1)


def polls_per_second(url: str, job_id: str, seconds: float, threads: int) -> float:
    def loop(_: int) -> int:
        count, end = 0, time.monotonic() + seconds
        with httpx.Client(base_url=url, timeout=30) as client:
            while time.monotonic() < end:
                assert client.get(f"/api/jobs/{job_id}").status_code == 200
                count += 1
        return count

    with ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(loop, range(threads))) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--rounds", type=int, default=5, help="alternating in-process / served pairs (the machine is shared: take medians)")
    parser.add_argument("--poll-seconds", type=float, default=3.0)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="permutate-bench-")
    os.environ["PERMUTATE_HOME"] = home
    os.environ.setdefault("PERMUTATE_URL_MAP", str(ROOT / "permutate_nb/examples/snapshots/url_map.yaml"))
    import permutate_nb as pn

    model, base_url = start_server(args.delay)
    api, url = start_api(home, base_url)
    try:
        request = build_request(base_url, args.runs, args.concurrency)
        request["config"]["cache"] = False
        warm = build_request(base_url, 20, args.concurrency)
        pn.run(warm, cache=False)
        httpx.post(f"{url}/api/start-job", json=warm, timeout=120).raise_for_status()
        local, served, served_job = [], [], []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            result = pn.run(request)
            local.append(time.perf_counter() - t0)
            assert len(result.details) == args.runs
            t0 = time.perf_counter()
            answer = httpx.post(f"{url}/api/start-job", json=request, timeout=600)
            served.append(time.perf_counter() - t0)
            answer.raise_for_status()
            data = answer.json()
            assert len(data["details"]) == args.runs
            served_job.append(data["summary"]["total_run_time"])
        long_request = build_request(base_url, args.runs * 4, args.concurrency)
        long_request["config"]["cache"] = False
        job_id = httpx.post(f"{url}/api/start-job", params={"wait": "false"}, json=long_request, timeout=60).json()["job_id"]
        time.sleep(0.5)
        one = polls_per_second(url, job_id, args.poll_seconds, 1)
        eight = polls_per_second(url, job_id, args.poll_seconds, 8)
        still = httpx.get(f"{url}/api/jobs/{job_id}").json()
        httpx.delete(f"{url}/api/jobs/{job_id}", timeout=60)
        print(json.dumps({
            "runs": args.runs, "concurrency": args.concurrency, "delay_s": args.delay,
            "pn_run_wall_s": [round(x, 3) for x in local], "start_job_wall_s": [round(x, 3) for x in served],
            "ratio_of_medians_served_over_local": round(statistics.median(served) / statistics.median(local), 3),
            "ratio_per_round": [round(b / a, 3) for a, b in zip(local, served)],
            "served_job_wall_s": served_job,  # the job inside the server; the rest is planning, HTTP and JSON
            "status_polls_per_s_1_client": round(one, 1), "status_polls_per_s_8_threads": round(eight, 1),
            "job_status_while_polled": still["status"], "job_done_while_polled": f"{still['done']}/{still['total']}",
        }))
    finally:
        for proc in (api, model):
            proc.terminate()
            proc.wait(15)


if __name__ == "__main__":
    main()
