"""Many jobs at once, and a server killed with SIGKILL mid-job that finishes the job after a restart."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import DEADLINE, FOREVER, KLARNA, PRODUCTS_URL, committed_runs, klarna_request, wait_until

from .helpers import TOOL_CALL, wait_for


def test_100_concurrent_start_jobs_all_complete(http: Any, scripted: Any) -> None:
    scripted.set_script(TOOL_CALL)
    scripted.delay = 0.01

    def submit(i: int) -> str:
        request = klarna_request(base_url=scripted.base_url, cache=False)
        request["name"] = f"job{i}"
        with httpx.Client(base_url=str(http.base_url), timeout=DEADLINE) as client:
            answer = client.post("/api/start-job", params={"wait": "false"}, json=request)
            assert answer.status_code == 202, answer.text
            return answer.json()["job_id"]

    with ThreadPoolExecutor(20) as pool:
        job_ids = list(pool.map(submit, range(100)))
    assert len(set(job_ids)) == 100
    for job_id in job_ids:
        assert wait_for(http, job_id)["status"] == "SUCCESS"
    jobs = {j["id"]: j for j in http.get("/api/jobs").json()}
    assert set(jobs) == set(job_ids)
    assert all(j["finished_runs"] == j["planned_runs"] == 2 for j in jobs.values())
    assert len(scripted.requests) == 200  # every run asked once: nothing lost, nothing doubled
    names = {http.get(f"/api/jobs/{job_id}/result").json()["job_name"].split("-")[0] for job_id in job_ids}
    assert names == {f"job{i}" for i in range(100)}


def _serve(home: Path, port: int, url_map: str, scripted_url: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PERMUTATE_HOME": str(home), "PERMUTATE_URL_MAP": url_map, "OPENAI_BASE_URL": scripted_url}
    env.pop("PERMUTATE_API_KEY", None)
    return subprocess.Popen([sys.executable, "-m", "permutate_nb.cli", "serve", "--port", str(port),
                             "--allow-dir", str(KLARNA.parent)], env=env, stderr=subprocess.PIPE, text=True)


def _ready(url: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + DEADLINE
    while True:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_kill_9_mid_job_then_restart_finishes_without_redoing_runs(scripted: Any, permutate_home: Path,
                                                                   offline_snapshots: Path) -> None:
    fast = TOOL_CALL["default"]
    scripted.set_script({"default": [fast] * 12 + [{**fast, "delay": FOREVER}]})  # 12 answers, then none until killed
    request = klarna_request(base_url=scripted.base_url, concurrency=4, cache=False)
    request["test_cases"] = [{"name": f"case{i}", "type": "plugin_selector", "prompt": f"prompt number {i}",
                              "expected_plugin_used": str(KLARNA), "expected_api_used": PRODUCTS_URL}
                             for i in range(60)]
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = _serve(permutate_home, port, str(offline_snapshots), scripted.base_url)
    try:
        _ready(url, server)
        job_id = httpx.post(f"{url}/api/start-job", params={"wait": "false"}, json=request, timeout=DEADLINE).json()["job_id"]
        wait_until(lambda: committed_runs(permutate_home / "jobs.sqlite", job_id) == 12 and len(scripted.requests) == 16,
                   what="12 runs committed and 4 waiting")
        server.send_signal(signal.SIGKILL)
        server.wait(DEADLINE)
        with closing(sqlite3.connect(permutate_home / "jobs.sqlite")) as store:
            stored = {json.loads(r)["prompt"] for (r,) in store.execute("SELECT result FROM runs WHERE job_id=?", (job_id,))}
        assert len(stored) == 12
        asked_before = Counter(r["json"]["messages"][-1]["content"] for r in scripted.requests)
        scripted.set_script(TOOL_CALL)  # every call answers now

        server = _serve(permutate_home, port, str(offline_snapshots), scripted.base_url)
        _ready(url, server)
        with httpx.Client(base_url=url, timeout=DEADLINE) as client:
            status = wait_for(client, job_id)
            assert status["status"] == "SUCCESS" and status["attempts"] == 2
            result = client.get(f"/api/jobs/{job_id}/result").json()
        assert len(result["details"]) == 60 and result["summary"]["failed_cases"] == 0
        asked = Counter(r["json"]["messages"][-1]["content"] for r in scripted.requests)
        assert set(asked) == {f"prompt number {i}" for i in range(60)}
        for prompt in stored:  # a run finished before the kill is never asked again
            assert asked[prompt] == 1, prompt
        redone = sum(asked.values()) - 60
        assert redone <= sum(asked_before.values()) - len(stored)  # at most the runs in flight (or unsaved) at the kill
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            server.kill()
