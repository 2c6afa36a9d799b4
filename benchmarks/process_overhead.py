"""Process overhead outside the job: ``permutate run`` of a one-run request as a whole process, beside
the job's own wall time (``total_run_time``): what start-up, imports and planning cost.

The package's bytecode is compiled first, as an installed wheel has it: with ``PYTHONDONTWRITEBYTECODE``
set (as in some shells and CI images), a source checkout would otherwise compile every module of the
package in every process, about half a second of CPU that no installed copy pays.

    PYTHONPATH=. python benchmarks/process_overhead.py [--runs 6]

Prints each process's wall and CPU (user + system, from the operating system) and the medians.
"""
import argparse
import compileall
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import ROOT, build_request, start_server  # noqa: E402


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=6, help="processes to time (the first is not counted)")
    args = parser.parse_args()
    compileall.compile_dir(str(ROOT / "permutate_nb"), quiet=1)  # as an installed package has it
    server, base = start_server(0.0)
    try:
        path = Path(tempfile.mkdtemp()) / "request.json"
        path.write_text(json.dumps(build_request(base, 1, 1)))
        env = {**os.environ, "PERMUTATE_HOME": tempfile.mkdtemp(),
               "PERMUTATE_URL_MAP": str(ROOT / "permutate_nb/examples/snapshots/url_map.yaml")}
        figures = []
        for _ in range(args.runs):
            cpu0, t0 = children_cpu(), time.perf_counter()
            subprocess.run([sys.executable, "-m", "permutate_nb.cli", "run", str(path), "--no-cache", "--quiet",
                            "-o", f"{path}.out.json"], env=env, capture_output=True, text=True, check=True)
            wall, cpu = time.perf_counter() - t0, children_cpu() - cpu0
            job = json.loads(Path(f"{path}.out.json").read_text())["summary"]["total_run_time"]
            figures.append((round(wall, 3), round(cpu, 3), job))
        counted = figures[1:]
        print("(wall s, cpu s, job s) per process:", counted)
        print(json.dumps({"median_process_wall_s": statistics.median(w for w, _, _ in counted),
                          "median_process_cpu_s": statistics.median(c for _, c, _ in counted),
                          "median_job_s": statistics.median(j for _, _, j in counted),
                          "load_average": os.getloadavg()[0]}))
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
