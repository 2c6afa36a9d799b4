"""The Ray executor on a local Ray instance (``ray.init(num_cpus=2)``, one for this module).

Every job here runs against the scripted OpenAI-compatible server on 127.0.0.1 under both
executors, and the rows, verdicts and summaries must agree; resume, an actor killed mid-job
and a real Ctrl-C (SIGINT to a real process) are checked on the cluster too.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray")  # the ray extra: without it the module is skipped, not an import error
pytest.importorskip("fastapi")  # the api extra: LiveServer below

import permutate_nb as pn
from permutate_nb.cli import main
from permutate_nb.core.api import resume
from permutate_nb.core.executors.ray import POOL, RayExecutor, _Pool, shares
from permutate_nb.core.executors.spec import ExecutorSpec
from permutate_nb.core.store.job_store import JobStore
from permutate_nb.server import ServerSettings
from tests.helpers import DEADLINE, committed_runs, klarna_request, sigint_as_default, wait_until
from tests.server.conftest import LiveServer

pytestmark = pytest.mark.ray

ROOT = Path(__file__).resolve().parents[2]
URL_MAP = Path(pn.__file__).parent / "examples" / "snapshots" / "url_map.yaml"
GOOD = {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}}
SCRIPT = {"rules": [{"match": "Translate", "responses": [{"text": "Muéstrame 5 camisetas de Klarna"}]},
                    {"match": "Show me", "responses": [GOOD]},
                    {"match": "camisetas", "responses": [{"tool_call": {"name": "productsUsingGET", "arguments": {"q": "camiseta"}}}]}],
          "default": {"text": "no tool"}}
TIMING = {"response_time_sec", "duration_sec", "total_run_time", "trace_spans", "average_response_time_sec",
          "started_on", "completed_on", "job_id", "job_name", "output_directory",
          "interaction", "application_interaction_id", "id", "created_at"}  # an eval output's own ids and times


@contextlib.contextmanager
def _starts_within(seconds: float) -> Iterator[None]:
    """Ray's own start waits are fixed, too short for a busy machine; here they follow the suite's DEADLINE.

    - The raylet waits 15 s for its agents (Python processes, slow to import under load) to write the ports
      they chose, then aborts: the agents get their ports up front instead, so there is nothing to wait
      for. The dashboard agent's HTTP port is not passed to the raylet, which waits for its file: the
      file is written here as the raylet starts (the agent writes the same port again when it is up).
    - The GCS port (30 s) and a worker's registration (60 s) have environment variables, read by the
      processes ``ray.init`` starts.
    - The driver polls ``services.get_node`` until a hard-coded 30 s for the raylet to register: each poll
      here waits for the node itself, up to ``seconds``, before giving Ray's loop its answer, unless the
      raylet has exited (``_RayletDied``: the caller starts again).
    - Should the raylet die anyway, the caller starts again."""
    services, parameter = ray._private.services, ray._private.parameter
    ask, params = services.get_node, parameter.RayParams.__init__

    def get_node(gcs_address: str, node_id: str) -> Any:
        give_up = time.monotonic() + seconds
        while True:
            try:
                return ask(gcs_address, node_id)
            except RuntimeError:  # not registered yet: Ray's loop would give up after 30 s
                if not _raylet_alive():
                    raise _RayletDied("the raylet exited while starting (its raylet.err says why)") from None
                if time.monotonic() > give_up:
                    raise
                time.sleep(0.1)

    def with_agent_ports(self: Any, *args: Any, **kwargs: Any) -> None:
        params(self, *args, **kwargs)
        for name, port in zip(_AGENT_PORTS, _free_ports(len(_AGENT_PORTS))):
            setattr(self, name, port)

    start_raylet = ray._private.node.Node.start_raylet

    def raylet_told_the_listen_port(self: Any, *args: Any, **kwargs: Any) -> None:
        from ray._raylet import DASHBOARD_AGENT_LISTEN_PORT_NAME, persist_port

        start_raylet(self, *args, **kwargs)
        persist_port(self._session_dir, self._node_id, DASHBOARD_AGENT_LISTEN_PORT_NAME,
                     self._ray_params.dashboard_agent_listen_port)

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_gcs_server_port_wait_time_s", str(int(seconds)))
        patch.setenv("RAY_worker_register_timeout_seconds", str(int(seconds)))
        patch.setattr(services, "get_node", get_node)
        patch.setattr(parameter.RayParams, "__init__", with_agent_ports)
        patch.setattr(ray._private.node.Node, "start_raylet", raylet_told_the_listen_port)
        yield


class _RayletDied(Exception):
    """Not a RuntimeError: Ray's start loop lets it through at once, rather than polling a dead node."""


def _raylet_alive() -> bool:
    """Whether a raylet this process started is running (a crashed one stays a zombie until reaped)."""
    import psutil

    return any(child.name() == "raylet" and child.status() != psutil.STATUS_ZOMBIE
               for child in psutil.Process().children())


def _start_ray(seconds: float) -> None:
    """``ray.init`` for the module's cluster, started again while the raylet dies starting, for ``seconds``
    at most; a failed start's processes (the GCS, the agents) are stopped before the next one."""
    import psutil

    give_up = time.monotonic() + seconds
    while True:
        before = {child.pid for child in psutil.Process().children(recursive=True)}
        try:
            with _starts_within(max(give_up - time.monotonic(), 1.0)):
                ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
            return
        except _RayletDied:
            ray.shutdown()
            started = [child for child in psutil.Process().children(recursive=True) if child.pid not in before]
            for child in started:
                with contextlib.suppress(psutil.NoSuchProcess):
                    child.kill()
            psutil.wait_procs(started, timeout=seconds)
            if time.monotonic() > give_up:
                raise


_AGENT_PORTS = ("metrics_agent_port", "metrics_export_port", "dashboard_agent_listen_port", "runtime_env_agent_port")


def _free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on this machine now (each bound to port 0, then released)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("", 0))
        return [sock.getsockname()[1] for sock in sockets]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A local Ray instance for the module; its workers inherit this environment (no network, no usage stats)."""
    saved = dict(os.environ)
    os.environ.update({"RAY_USAGE_STATS_ENABLED": "0", "PERMUTATE_URL_MAP": str(URL_MAP), "OPENAI_API_KEY": "test-key",
                       "PERMUTATE_HOME": str(tmp_path_factory.mktemp("ray_home")),
                       "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])})
    _start_ray(DEADLINE)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        POOL.clear(ray)  # no handle of this instance's actors outlives it (the next module may start another)
        ray.shutdown()
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def on_ray(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[int]]]:
    """(job kind, units) of every job the Ray executor ran, recorded as it starts them."""
    seen: list[tuple[str, list[int]]] = []
    run = RayExecutor.run

    async def recorded(self: RayExecutor, job: Any, todo: Any, **kwargs: Any) -> bool:
        todo = list(todo)
        seen.append((job.kind, todo))
        return await run(self, job, todo, **kwargs)

    monkeypatch.setattr(RayExecutor, "run", recorded)
    return seen


def _plain(value: Any) -> Any:
    """A row or summary without what differs between any two runs (times, ids)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k not in TIMING}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _both(run: Any) -> tuple[Any, Any]:
    return run(None), run("ray")


def test_the_same_permutate_job_gives_the_same_rows_and_summary(cluster: str, scripted: Any) -> None:
    scripted.set_script(SCRIPT)
    request = klarna_request(base_url=scripted.base_url, cache=False, repeats=6, concurrency=4,
                             auto_translate_to_languages=["English", "Spanish"])
    local = pn.run(request)
    scripted.reset()
    remote = pn.run(request, executor="ray")
    assert remote.status == local.status
    assert len(remote.details) == local.planned_runs == 2 * 2 * 6
    assert _plain([d.to_dict() for d in remote.details]) == _plain([d.to_dict() for d in local.details])
    assert _plain(remote.summary) == _plain(local.summary)
    assert _plain(remote.summary_by("language")) == _plain(local.summary_by("language"))
    assert {d.passed for d in remote.details} == {True, False}  # verdicts of both kinds were compared
    translations = [r for r in scripted.requests if "Translate" in json.dumps(r["json"])]
    assert len(translations) == 2  # by the driver, once per test case: the actors got them with the plan
    stored = JobStore().job(remote.job_id)
    assert stored["status"] == remote.status and stored["finished_runs"] == 24
    assert stored["request"]["config"].get("executor") is None  # the request did not ask; executor= did


def test_batch_chains_and_eval_give_the_same_rows(cluster: str, scripted: Any) -> None:
    scripted.set_script({"rules": [{"match": "capital", "responses": [{"text": "Paris"}]},
                                   {"match": "Paris", "responses": [{"text": "2.1 million", "delay": 0.2}]},
                                   {"match": "2.1 million", "responses": [{"text": "big"}]},
                                   {"match": "broken", "responses": [{"status": 400}]}],
                          "default": {"text": "4"}})
    models = {"m": {"model_name": "gpt-4o-mini", "base_url": scripted.base_url}}
    rows = [{"prompt": "capital of France?", "model": "m"}, {"prompt": "people in ${output.1}?", "model": "m"},
            {"prompt": "is ${output.2} big?", "model": "m"}, {"prompt": "broken", "model": "m"},
            {"prompt": "after ${output.4}", "model": "m"}, *({"prompt": f"2+2 #{i}", "model": "m"} for i in range(8))]
    local, remote = _both(lambda executor: pn.batch(rows, models=models, cache=False, executor=executor))
    frame = remote.to_pandas()
    assert list(frame["result"][:3]) == ["Paris", "2.1 million", "big"]
    assert list(frame["status"][3:5]) == ["failed", "failed"] and "depends on row 4" in frame["error"][4]
    assert _plain(frame.to_dict("records")) == _plain(local.to_pandas().to_dict("records"))
    assert remote.status == local.status == "PARTIAL_SUCCESS"

    cases = [{"id": f"q{i}", "input": f"2+2 {i}", "expected_output": "4"} for i in range(6)]
    local, remote = _both(lambda executor: pn.evaluate(cases, models=["m"], model_settings=models, metrics=["exact-match"],
                                                       cache=False, executor=executor))
    assert remote.status == local.status == "SUCCESS"
    assert _plain(remote.outputs) == _plain(local.outputs) and len(remote.outputs) == 6
    assert remote.summary_df.to_dict() == local.summary_df.to_dict()


def test_resume_runs_only_the_missing_units_on_ray(cluster: str, scripted: Any, on_ray: list[Any]) -> None:
    scripted.set_script(SCRIPT)
    request = klarna_request(base_url=scripted.base_url, cache=False, repeats=10, executor={"kind": "ray"})
    first = pn.run(request, executor="asyncio")
    assert not on_ray
    store = JobStore()
    with sqlite3.connect(store.path) as db:
        db.execute("DELETE FROM runs WHERE job_id=? AND idx % 3 = 0", (first.job_id,))
    scripted.reset()
    again = resume(first.job_id)  # the stored request's config.executor: Ray
    assert [(kind, sorted(units)) for kind, units in on_ray] == [("permutate", list(range(0, 20, 3)))]  # interleaved order
    assert len(scripted.requests) == 7  # units 0, 3, ..., 18: nothing else ran again
    assert again.status == first.status and len(again.details) == 20
    assert _plain([d.to_dict() for d in again.details]) == _plain([d.to_dict() for d in first.details])


def test_an_actor_that_dies_hands_its_units_to_another(cluster: str, scripted: Any) -> None:
    # 6 answers, then every call waits: the job cannot end before the kill, and both actors are stuck
    scripted.set_script({"rules": [{"match": "Show me", "responses": [GOOD] * 6 + [dict(GOOD, hold=True)]}],
                         "default": {"text": "x"}})
    request = klarna_request(base_url=scripted.base_url, cache=False, repeats=20, concurrency=4)
    killed: list[int] = []
    POOL.clear(ray)  # this job's actors are new ones, the only ones named now

    def kill_one() -> None:
        held = lambda: sum("Show me" in json.dumps(r["json"]) for r in scripted.requests) - 6  # noqa: E731
        wait_until(lambda: held() >= 4, what="every slot of both actors on a held call")
        names = sorted(n for n in ray.util.list_named_actors() if n.startswith("permutate-"))
        actor = ray.get_actor(names[0])
        pid = ray.get(actor.__ray_call__.remote(lambda self: os.getpid()))
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)
        scripted.set_script({"rules": [{"match": "Show me", "responses": [GOOD]}], "default": {"text": "x"}})
        scripted.release()

    killer = threading.Thread(target=kill_one, daemon=True)
    killer.start()
    result = pn.run(request, executor={"kind": "ray", "workers": 2})
    killer.join(DEADLINE)
    assert killed, "no actor was killed"
    assert result.status == "SUCCESS" and len(result.details) == 40
    assert [d.passed for d in result.details] == [True] * 20 + [False] * 20  # every unit has its own row
    asked = sum(r["path"].endswith("/chat/completions") for r in scripted.requests)
    assert asked > 40  # the dead actor's unanswered units were asked again, by the other one
    alive = [n for n in ray.util.list_named_actors() if n.startswith("permutate-")]
    assert len(alive) == 1  # the dead actor is gone; the other went back to the pool for the next job


def test_the_next_job_of_the_process_reuses_the_actors(cluster: str, scripted: Any) -> None:
    """A job's actors go back to the process's pool: the next job starts no worker process."""
    scripted.set_script({"default": GOOD})
    spec = ExecutorSpec(kind="ray", workers=2)
    first, second = RayExecutor(spec), RayExecutor(spec)
    request = klarna_request(base_url=scripted.base_url, cache=False, repeats=10)
    assert pn.run(request, executor=first).status == "SUCCESS"
    assert pn.run(request, executor=second).status == "SUCCESS"
    assert len(set(first.pids)) == 2 and sorted(second.pids) == sorted(first.pids)


def test_a_slow_actor_holds_no_more_than_its_pool_and_one_chunk(cluster: str, scripted: Any) -> None:
    """Concurrency 2 over 2 actors: each runs one unit at a time and holds one more. The actor stuck on
    unit 0 (its reply is held) keeps one other unit; the other actor runs the remaining 18 meanwhile, and
    only then is unit 0 answered (had the stuck actor held more, the 18 would never finish)."""
    scripted.set_script({"rules": [{"match": "slowly", "responses": [dict(GOOD, hold=True)]}], "default": GOOD})
    order: list[int] = []

    class Order(pn.Reporter):
        def run_finished(self, index: int, detail: Any) -> None:
            order.append(index)
            if len(order) == 18:
                scripted.release()

    request = klarna_request(base_url=scripted.base_url, cache=False, concurrency=2, timeout_sec=5 * DEADLINE)
    case = request["test_cases"][0]
    request["test_cases"] = [{**case, "name": f"c{i}", "prompt": "Show me T shirts" + " slowly" * (i == 0)} for i in range(20)]
    result = pn.run(request, executor={"kind": "ray", "workers": 2}, reporter=Order())
    assert len(result.details) == 20 and sorted(order) == list(range(20))
    assert result.details[0].is_run_completed, result.details[0].error  # answered on release, not timed out
    assert order.index(0) >= 18, order  # unit 0 is the slow one: at most one unit waited behind it


_INTERRUPTED = '''
import json, os, sys
import ray
import permutate_nb as pn
from permutate_nb.testing.scripted_server import ScriptedOpenAIServer
from tests.helpers import FOREVER, klarna_request, wait_until

GOOD = {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}}
with ScriptedOpenAIServer() as server:
    server.set_script({"rules": [{"match": "Show me", "responses": [GOOD]}], "default": {"text": "late", "delay": FOREVER}})
    request = klarna_request(base_url=server.base_url, cache=False, repeats=4, concurrency=4)
    print("ready", flush=True)
    result = pn.run(request, executor={"kind": "ray", "address": sys.argv[1], "workers": 2})
    wait_until(lambda: ray.available_resources().get("CPU", 0.0) == 2.0, what="the cancelled actors' CPUs")
    print(json.dumps({"status": result.status, "stored": pn.status(result.job_id)["status"], "rows": len(result.details),
                      "passed": [d.passed for d in result.details]}))
'''


def test_ctrl_c_cancels_the_cluster_work_and_keeps_the_finished_rows(cluster: str, tmp_path: Path) -> None:
    """SIGINT to a real process running a job on the module's cluster, once the 4 fast runs are committed:
    they are kept, the 4 slow ones (which the server never answers) are cancelled, and the actors are gone
    before the process exits (their CPUs are free while the job's process still runs)."""
    POOL.clear(ray)  # this process's idle actors would hold the cluster's 2 CPUs the other process needs
    env = {**os.environ, "PERMUTATE_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen([sys.executable, "-c", _INTERRUPTED, cluster], cwd=ROOT, env=env, preexec_fn=sigint_as_default,
                            stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        wait_until(lambda: committed_runs(tmp_path / "home" / "jobs.sqlite") >= 4, every=0.05, what="4 committed runs")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=DEADLINE)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    assert (report["status"], report["stored"], report["rows"]) == ("CANCELLED", "CANCELLED", 4), report
    assert report["passed"] == [True] * 4


def test_cli_flags_and_a_missing_extra(cluster: str, scripted: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    scripted.set_script(SCRIPT)
    path = tmp_path / "job.json"
    path.write_text(json.dumps(klarna_request(base_url=scripted.base_url, cache=False)))
    assert main(["run", str(path), "--executor", "ray", "--workers", "1", "-q"]) == 0
    assert "job id:" in capsys.readouterr().out
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    assert main(["run", str(path), "--executor", "ray", "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == 'permutate: error: ray is not installed: run  pip install "permutate-nb[ray]"'
    assert main(["batch", str(path), "--workers", "0"]) == 2
    assert "--workers: 0 must be 1 or more" in capsys.readouterr().err


def test_workers_split_the_concurrency() -> None:
    assert shares(8, 3) == [3, 3, 2] and shares(32, 2) == [16, 16] and shares(2, 4) == [1, 1] and shares(1, 1) == [1]


def test_the_pool_never_hands_out_an_ended_connections_actors() -> None:
    """After ``ray.shutdown()`` and a new ``ray.init()``, the job id starts again at 01000000: only the node id
    tells the connections apart, and the old one's actors died with it."""
    pool = _Pool()
    old, new = (None, "node-a", "01000000"), (None, "node-b", "01000000")
    pool.give_back(old, ["actor of the ended connection"])
    assert pool.take(new, 2) == []
    pool.give_back(new, ["live actor"])
    assert pool.take(old, 2) == [] and pool.take(new, 2) == []  # each connection drops the other's


@pytest.mark.parametrize(("value", "message"), [
    ({"kind": "spark"}, "executor.kind: Input should be 'asyncio' or 'ray'"),
    ({"kind": "ray", "workers": 0}, "executor.workers: Input should be greater than or equal to 1"),
    ({"kind": "ray", "nodes": 3}, "executor.nodes: Extra inputs are not permitted"),
    ("spark", "executor 'spark': use asyncio or ray"),
])
def test_a_bad_executor_is_one_line(value: Any, message: str) -> None:
    with pytest.raises(pn.RequestError) as caught:
        pn.run(klarna_request(), executor=value)
    assert str(caught.value) == message


def test_serve_runs_jobs_on_ray_and_keeps_the_cluster_its_own(cluster: str, scripted: Any, on_ray: list[Any],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    scripted.set_script(SCRIPT)
    monkeypatch.setenv("OPENAI_BASE_URL", scripted.base_url)  # batch model names go there; the actors get it too
    body = klarna_request(base_url=scripted.base_url, cache=False, repeats=3)
    allow = (URL_MAP.parent.resolve(),)
    server = LiveServer(ServerSettings(allow_dirs=allow, executor=ExecutorSpec(kind="ray", workers=2))).start()
    plain = LiveServer(ServerSettings(allow_dirs=allow)).start()
    try:
        with server.client() as http, plain.client() as other:
            answer = http.post("/api/start-job", json=body)
            assert answer.status_code == 200, answer.text
            assert answer.json()["summary"]["total_test_cases"] == 6
            started = http.post("/experience/batch_execution/execute_batch/invoke",
                                json={"executions": [{"prompt": "Show me", "model": "gpt-4o-mini"},
                                                     {"prompt": "again ${output.1}", "model": "gpt-4o-mini"}]})
            invocation = started.json()["invocation_id"]
            wait_until(lambda: http.post("/system/batch_execution/results", json={"invocation_id": invocation})
                       .json()["status"] == "completed", every=0.05)
            assert [kind for kind, _ in on_ray] == ["permutate", "batch"]
            named = http.post("/api/start-job", json={**body, "config": {**body["config"],
                                                                         "executor": {"kind": "ray", "address": "10.0.0.9:6379"}}})
            assert named.status_code == 422 and named.json()["detail"][0]["loc"] == ["body", "config", "executor", "address"]
            refused = other.post("/api/start-job", json={**body, "config": {**body["config"], "executor": {"kind": "ray"}}})
            assert refused.status_code == 422 and "--executor ray" in refused.json()["detail"][0]["msg"]
    finally:
        server.stop()
        plain.stop()


def test_a_job_no_actor_can_run_fails_in_one_line(cluster: str, scripted: Any, tmp_path: Path) -> None:
    """The manifest is gone by the time the actors plan the job: each fails to start, and the job says why."""
    manifest = tmp_path / "Klarna_Shopping.json"
    manifest.write_bytes((URL_MAP.parent / "Klarna_Shopping.json").read_bytes())
    plan = pn.plan_job(klarna_request(manifest=manifest, base_url=scripted.base_url, cache=False))
    manifest.unlink()
    with pytest.raises(pn.PermutateError, match=r"every Ray actor of the job failed; the last: .*Klarna_Shopping.json") as caught:
        pn.run(plan, executor="ray")
    assert str(caught.value).endswith("(2 units without a row; resume the job to run them)")
    job = JobStore().jobs()[-1]
    assert (job["status"], job["finished_runs"]) == ("ERROR", 0)
