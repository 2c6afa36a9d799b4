"""How many provider calls a job killed with ``kill -9`` asks again when it is resumed.

The job (``throughput.build_request``: the scripted server answers every call after
``--delay`` s) runs in a ``permutate run`` process, killed with SIGKILL the moment the
server has seen ``--kill-at`` requests; ``permutate run --resume ID`` then finishes it.
Every run needs one call, so the calls asked twice = requests before the kill + requests
of the resume - runs. The promise: at most the calls in flight, i.e. ``--concurrency``.

Usage::

    python benchmarks/kill_resume.py --runs 300 --concurrency 8 --kill-at 120
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from permutate_nb.testing.scripted_server import ScriptedOpenAIServer

sys.path.insert(0, str(Path(__file__).parent))
from throughput import ROOT, build_request  # noqa: E402

GOOD = {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--kill-at", type=int, default=120, help="requests the server has seen when the job is killed")
    parser.add_argument("--delay", type=float, default=0.05)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="permutate-kill-"))
    env = {**os.environ, "PERMUTATE_HOME": str(home), "OPENAI_API_KEY": os.environ.get("OPENAI_API_KEY", "unused"),
           "PERMUTATE_URL_MAP": str(ROOT / "permutate_nb/examples/snapshots/url_map.yaml")}
    with ScriptedOpenAIServer({"default": {**GOOD, "delay": args.delay}}) as server:
        request = build_request(server.base_url, args.runs, args.concurrency)
        request["config"].update(cache=True)
        job = home / "job.yaml"
        job.write_text(yaml.safe_dump(request))
        command = [sys.executable, "-m", "permutate_nb.cli", "run"]
        proc = subprocess.Popen([*command, str(job), "--quiet"], env=env, stdout=subprocess.DEVNULL)
        while len(server.requests) < args.kill_at:
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        before = len(server.requests)
        conn = sqlite3.connect(home / "jobs.sqlite")
        job_id, stored = conn.execute("SELECT id, (SELECT COUNT(*) FROM runs) FROM jobs").fetchone()
        conn.close()
        subprocess.run([*command, "--resume", job_id, "--quiet"], env=env, stdout=subprocess.DEVNULL, check=True)
        after = len(server.requests) - before
    runs = len(request["test_cases"]) * request["config"]["repeats"]
    print(json.dumps({"runs": runs, "concurrency": args.concurrency, "requests_before_kill": before,
                      "rows_stored_at_kill": stored, "requests_on_resume": after, "asked_again": before + after - runs}))


if __name__ == "__main__":
    main()
