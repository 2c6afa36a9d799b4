"""The Ray executor against in-process asyncio, on one machine, with the figures docs/design/performance.md gives.

Three measurements, each job run in-process then on ``--workers`` Ray actors of a local Ray
instance (``ray.init(num_cpus=--cpus)``, started before the clock; actor start-up is inside
the Ray figures, as a job pays it):

- the embedded model: the shipped example request on ``--provider local``, ``--local-repeats``
  repeats, cache off: runs per second (in-process: one model, every core; on Ray: one model
  per actor, ``OMP_NUM_THREADS`` = its one CPU);
- the benchmark server job of ``benchmarks/throughput.py`` (``--runs``, concurrency 32 in
  all, 50 ms per answer; in-process with the cache filling, as throughput.py's first run, on Ray
  with it off): efficiency = ideal wall time (runs x 0.05 s / 32) / wall;
- a Ray job's fixed cost apart from its per-run cost: a 20-run job on new actors (cold) and the
  same job again on the actors the first one gave back to the pool (warm); fixed = cold - warm,
  per run = (wall of the big job - warm) / its runs beyond 20;
- the driver's row intake: the driver process's CPU seconds per row during the Ray run of that
  job (restoring, storing and reporting each row, and Ray's own client threads); its inverse
  is the most rows per second one driver takes in, whatever the cluster's size; and the rows per
  second of a re-run whose every answer the actors read from the response cache (filled by the
  in-process run), where nothing but the actors and the driver sets the pace.

    python benchmarks/ray_scale.py                    # 20,000 runs, 2 actors
    python benchmarks/ray_scale.py --runs 2000 --local-repeats 1
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from throughput import ROOT, build_request, cpu_seconds, start_server

EXAMPLE = ROOT / "permutate_nb" / "examples" / "klarna_plugin_test.yaml"


def timed(run: Any) -> tuple[Any, float, float]:
    """A job's result, wall seconds and this process's CPU seconds."""
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    result = run()
    return result, time.perf_counter() - t0, cpu_seconds() - cpu0


def local_model(pn: Any, repeats: int, ray: dict[str, Any]) -> dict[str, Any]:
    request = pn.load_request(EXAMPLE).to_dict()
    request.setdefault("config", {})["repeats"] = repeats
    plan = pn.plan_job(request, provider="local")
    out: dict[str, Any] = {"runs": plan.total_runs}
    for name, executor in (("in_process", None), ("ray", ray)):
        result, wall, _ = timed(lambda: pn.run(plan, cache=False, executor=executor))
        assert len(result.details) == plan.total_runs, result.status
        out[f"{name}_wall_s"] = round(wall, 2)
        out[f"{name}_runs_per_s"] = round(plan.total_runs / wall, 2)
        out[f"{name}_passed"] = sum(d.passed for d in result.details)
    out["speed_up"] = round(out["ray_runs_per_s"] / out["in_process_runs_per_s"], 2)
    return out


def server_job(pn: Any, runs: int, delay: float, ray: dict[str, Any]) -> dict[str, Any]:
    server, base_url = start_server(delay)
    try:
        request = build_request(base_url, runs, 32)
        plan = pn.plan_job(request)
        pn.run(build_request(base_url, 20, 32), cache=False)  # warm-up: imports, connections
        import ray as ray_module

        from permutate_nb.core.executors.ray import POOL

        POOL.clear(ray_module)  # the first small job starts its actors; the second takes them from the pool
        _, cold, _ = timed(lambda: pn.run(build_request(base_url, 20, 32), cache=False, executor=ray))
        _, warm, _ = timed(lambda: pn.run(build_request(base_url, 20, 32), cache=False, executor=ray))
        ideal = plan.total_runs * delay / 32
        out: dict[str, Any] = {"runs": plan.total_runs, "ideal_s": round(ideal, 2),
                               "ray_20_run_job_cold_s": round(cold, 2), "ray_20_run_job_warm_s": round(warm, 2),
                               "ray_fixed_cost_s": round(cold - warm, 2)}
        for name, executor, cache in (("in_process", None, True), ("ray", ray, False)):  # in-process fills the cache
            result, wall, cpu = timed(lambda: pn.run(plan, cache=cache, executor=executor))
            assert sum(d.passed for d in result.details) == plan.total_runs, result.status
            out[f"{name}_wall_s"] = round(wall, 2)
            out[f"{name}_efficiency"] = round(ideal / wall, 3)
            out[f"{name}_driver_cpu_ms_per_row"] = round(cpu / plan.total_runs * 1000, 3)
        out["driver_intake_rows_per_s"] = round(1000 / out["ray_driver_cpu_ms_per_row"])
        out["ray_per_run_ms"] = round((out["ray_wall_s"] - warm) / (plan.total_runs - 20) * 1000, 3)
        out["ray_vs_in_process_wall"] = round(out["ray_wall_s"] / out["in_process_wall_s"], 2)
        result, wall, cpu = timed(lambda: pn.run(plan, cache=True, executor=ray))
        assert sum(d.cached for d in result.details) == plan.total_runs  # the actors only read the cache
        out["ray_cached_rerun_rows_per_s"] = round(plan.total_runs / wall)
        out["ray_cached_rerun_driver_cpu_ms_per_row"] = round(cpu / plan.total_runs * 1000, 3)
        return out
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20000, help="runs of the benchmark-server job")
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--local-repeats", type=int, default=4, help="repeats of the example request (8 runs each)")
    parser.add_argument("--workers", type=int, default=2, help="Ray actors")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray instance")
    args = parser.parse_args()
    os.environ.setdefault("PERMUTATE_HOME", tempfile.mkdtemp(prefix="permutate-bench-"))
    os.environ.setdefault("PERMUTATE_URL_MAP", str(ROOT / "permutate_nb/examples/snapshots/url_map.yaml"))
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    import permutate_nb as pn

    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
    executor = {"kind": "ray", "workers": args.workers}
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    report = {"load_average_before": load, "workers": args.workers, "cpus": os.cpu_count(),
              "local_model": local_model(pn, args.local_repeats, executor),
              "server_job": server_job(pn, args.runs, args.delay, executor)}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
