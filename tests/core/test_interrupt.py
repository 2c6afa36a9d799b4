"""Interrupts and batch slots, in real processes: the main thread gets a real KeyboardInterrupt.

``_thread.interrupt_main()`` is what a kernel interrupt or Ctrl-C does to the main thread
while ``pn.run`` / ``pn.batch`` / ``pn.evaluate`` wait for the job's worker thread.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import permutate_nb
from tests.helpers import DEADLINE, sigint_as_default

ROOT = Path(__file__).resolve().parents[2]
URL_MAP = Path(permutate_nb.__file__).parent / "examples" / "snapshots" / "url_map.yaml"

_PRELUDE = '''
import _thread, json, os, sys, threading, time
import permutate_nb as pn
from permutate_nb.testing.scripted_server import ScriptedOpenAIServer
from tests.helpers import DEADLINE, FOREVER, klarna_request, wait_until

GOOD = {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}}
'''

_INTERRUPTED_JOBS = _PRELUDE + '''
class InterruptWhenOneIsDone(pn.Reporter):
    """Interrupts the main thread once one unit has finished while another is running."""

    def __init__(self):
        self.started = self.finished = 0
        self.fired = False

    def run_started(self, index):
        self.started += 1
        self._check()

    def run_finished(self, index, detail):
        self.finished += 1
        self._check()

    def _check(self):
        if self.finished >= 1 and self.started >= 2 and not self.fired:
            self.fired = True
            _thread.interrupt_main()


out = {}
with ScriptedOpenAIServer() as server:
    server.set_script({"rules": [{"match": "Show me", "responses": [GOOD]}, {"match": "fast", "responses": [{"text": "4"}]},
                                 {"responses": [{"text": "late", "delay": FOREVER}]}]})
    models = {"m": {"model_name": "gpt-4o-mini", "base_url": server.base_url}}
    jobs = {
        "run": lambda r: pn.run(klarna_request(base_url=server.base_url, cache=False), concurrency=2, reporter=r),
        "batch": lambda r: pn.batch("prompt,model\\nfast,m\\nslow,m\\n", models=models, cache=False, reporter=r),
        "evaluate": lambda r: pn.evaluate([{"id": "a", "input": "fast", "expected_output": "4"},
                                           {"id": "b", "input": "slow", "expected_output": "4"}], models=["m"],
                                          model_settings=models, metrics=["exact-match"], cache=False, reporter=r),
    }
    for name, start in jobs.items():  # the slow unit never answers: a job that returns at all was interrupted
        result = start(InterruptWhenOneIsDone())
        rows = len(result.to_pandas()) if name != "evaluate" else len(result.outputs)
        out[name] = [result.status, pn.status(result.job_id)["status"], rows]
print(json.dumps(out))
'''

_SLOT_RELEASED = _PRELUDE + '''
from permutate_nb.core.store.job_store import JobStore

os.environ["MAX_CONCURRENT_BATCHES"] = "1"
out = {}
with ScriptedOpenAIServer({"default": {"text": "ok"}}) as server:
    models = {"m": {"model_name": "gpt-4o-mini", "base_url": server.base_url}}
    server.hold()  # A holds the only slot until release()
    a = pn.submit("batch", [{"prompt": "slow", "model": "m"}], models=models, cache=False).job_id
    wait_until(lambda: len(server.requests) == 1, what="A's request")

    def interrupt_when_b_waits():  # B shows up as PENDING: it waits for the slot A holds
        store = JobStore()
        wait_until(lambda: any(job["status"] == "PENDING" for job in store.jobs()), what="B pending")
        _thread.interrupt_main()

    threading.Thread(target=interrupt_when_b_waits, daemon=True).start()
    b = pn.batch([{"prompt": "b", "model": "m"}], models=models, cache=False)
    out["b"] = [b.status, pn.status(b.job_id)["status"], len(b), pn.status(a)["status"]]
    server.release()
    wait_until(lambda: pn.status(a)["status"] not in ("PENDING", "RUNNING"), what="A to end")
    out["a"] = pn.status(a)["status"]
    c = pn.batch([{"prompt": "c", "model": "m"}], models=models, cache=False)  # the slot B waited for is free
    out["c"] = [c.status, list(c.frame["result"])]
print(json.dumps(out))
'''


def _python(code: str, tmp_path: Path) -> dict[str, list]:
    env = {**os.environ, "PERMUTATE_HOME": str(tmp_path / "home"), "PERMUTATE_URL_MAP": str(URL_MAP),
           "OPENAI_API_KEY": "test-key", "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    for name in ("MAX_CONCURRENT_BATCHES", "EXECUTION_TIMEOUT", "DEFAULT_MAX_THREADS"):
        env.pop(name, None)
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=DEADLINE,
                         preexec_fn=sigint_as_default)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_an_interrupt_returns_the_finished_runs_marked_cancelled(tmp_path: Path) -> None:
    out = _python(_INTERRUPTED_JOBS, tmp_path)
    for name in ("run", "batch", "evaluate"):
        assert out[name] == ["CANCELLED", "CANCELLED", 1], (name, out[name])


def test_a_batch_interrupted_while_waiting_for_a_slot_gives_it_back(tmp_path: Path) -> None:
    out = _python(_SLOT_RELEASED, tmp_path)  # the process exits: nothing holds a slot or a thread
    assert out["b"] == ["CANCELLED", "CANCELLED", 0, "RUNNING"]
    assert out["a"] == "SUCCESS"
    assert out["c"] == ["SUCCESS", ["ok"]]
