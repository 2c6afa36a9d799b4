"""Process overhead outside the job: ``permutate run`` of a one-run request as a whole process, beside
the job's own wall time (``total_run_time``): what start-up, imports and planning cost.

    PYTHONPATH=. python benchmarks/process_overhead.py
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, "benchmarks")
from throughput import build_request, start_server

server, base = start_server(0.0)
try:
    req = build_request(base, 1, 1)
    path = Path(tempfile.mkdtemp()) / "request.json"
    path.write_text(json.dumps(req))
    env = {**os.environ, "PERMUTATE_HOME": tempfile.mkdtemp(), "PERMUTATE_URL_MAP": "permutate_nb/examples/snapshots/url_map.yaml"}
    walls = []
    for _ in range(6):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "permutate_nb.cli", "run", str(path), "--no-cache", "--quiet", "-o", str(path) + ".out.json"], env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        job = json.loads(Path(str(path) + ".out.json").read_text())["summary"]["total_run_time"]
        walls.append((round(wall, 3), job))
    print(walls[1:])
    print("median process wall", statistics.median(w for w, _ in walls[1:]), "median job", statistics.median(j for _, j in walls[1:]))
finally:
    server.terminate()
