"""Nothing that finished is lost, nothing is done twice: group commit, prompt cache writes, leases.

Every kill here is a SIGKILL sent the moment a condition is seen (rows in the SQLite file,
requests at the scripted server), with no sleep before it.
"""

from __future__ import annotations

import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import permutate_nb as pn
from permutate_nb.core.jobs.events import Reporter
from permutate_nb.core.store.job_store import LEASE_EXPIRY_SEC, JobStore

from ..helpers import DEADLINE, FOREVER, cli_process, committed_runs, klarna_request, wait_until

GOOD = {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}}


def _wait(condition: Callable[[], bool], seconds: float = DEADLINE) -> None:
    wait_until(condition, seconds, every=0.01)


_cli = cli_process


def _stored_indices(db: Path, job_id: str) -> set[int]:
    conn = sqlite3.connect(db)
    try:
        return {i for (i,) in conn.execute("SELECT idx FROM runs WHERE job_id=?", (job_id,))}
    finally:
        conn.close()


class _CheckingReporter(Reporter):
    """Looks in the SQLite file, from its own connection, for every run reported done."""

    def __init__(self, db: Path) -> None:
        self.db, self.job_id, self.missing, self.reported = db, "", [], 0

    def run_finished(self, index: int, detail: Any) -> None:
        if not self.job_id:
            conn = sqlite3.connect(self.db)
            self.job_id = conn.execute("SELECT id FROM jobs ORDER BY created_at DESC LIMIT 1").fetchone()[0]
            conn.close()
        self.reported += 1
        if index not in _stored_indices(self.db, self.job_id):
            self.missing.append(index)


def test_a_run_is_committed_before_it_is_reported(scripted: Any, permutate_home: Path) -> None:
    scripted.set_script({"rules": [{"responses": [{**GOOD, "delay": 0.01}]}]})
    reporter = _CheckingReporter(permutate_home / "jobs.sqlite")
    result = pn.run(klarna_request(base_url=scripted.base_url, cache=False, concurrency=4, repeats=10), reporter=reporter)
    assert reporter.reported == len(result.details) == 20 and reporter.missing == []


def test_a_batch_row_is_committed_before_it_is_reported(scripted: Any, permutate_home: Path) -> None:
    scripted.set_script({"rules": [{"responses": [{"text": "ok"}]}]})
    reporter = _CheckingReporter(permutate_home / "jobs.sqlite")
    models = {"m": {"base_url": scripted.base_url, "model_name": "gpt-4o-mini"}}
    frame = pn.batch("prompt,model\n" + "".join(f"p{i},m\n" for i in range(12)), models=models, cache=False,
                     reporter=reporter).frame
    assert reporter.reported == len(frame) == 12 and reporter.missing == []


def _many_cases(tmp_path: Path, base_url: str, cases: int, concurrency: int) -> Path:
    data = klarna_request(base_url=base_url, concurrency=concurrency, cache=True)
    template = data["test_cases"][0]
    data["test_cases"] = [{**template, "name": f"case{i}", "prompt": f"shirts number {i}"} for i in range(cases)]
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_kill_then_resume_asks_again_only_what_was_in_flight(scripted: Any, tmp_path: Path) -> None:
    concurrency, cases = 4, 60
    scripted.set_script({"rules": [{"responses": [GOOD] * 25 + [{**GOOD, "hold": True}]}]})  # 25 answers, then none
    path = _many_cases(tmp_path, scripted.base_url, cases, concurrency)
    home = tmp_path / "home"
    proc = _cli("run", str(path), "--quiet", home=home)
    _wait(lambda: committed_runs(home / "jobs.sqlite") == 25 and len(scripted.requests) == 25 + concurrency)
    proc.send_signal(signal.SIGKILL)
    proc.wait(DEADLINE)
    asked_before = [r["json"]["messages"][0]["content"] for r in scripted.requests]
    job_id = JobStore(home / "jobs.sqlite").jobs()[0]["id"]
    scripted.set_script({"rules": [{"responses": [GOOD]}]})

    resumed = _cli("run", "--resume", job_id, "--quiet", home=home)
    _, stderr = resumed.communicate(timeout=DEADLINE)
    assert resumed.returncode == 0, stderr
    asked_again = [r["json"]["messages"][0]["content"] for r in scripted.requests[len(asked_before):]]
    repeated = [p for p in asked_again if p in asked_before]
    assert len(repeated) == concurrency, repeated  # only the calls in flight at the kill
    assert sorted(set(asked_before) | set(asked_again)) == sorted(f"shirts number {i}" for i in range(cases))
    assert JobStore(home / "jobs.sqlite").job(job_id)["finished_runs"] == cases


def _slow_job(tmp_path: Path, base_url: str) -> tuple[Path, Path]:
    data = klarna_request(base_url=base_url, concurrency=2, cache=False)
    template = data["test_cases"][0]
    data["test_cases"] = [{**template, "name": f"case{i}", "prompt": f"{'slow' if i >= 2 else 'fast'} shirts {i}"}
                          for i in range(4)]
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, tmp_path / "home"


def test_a_running_job_is_leased_and_a_dead_one_is_interrupted(scripted: Any, tmp_path: Path) -> None:
    scripted.set_script({"rules": [{"match": "slow", "responses": [{**GOOD, "delay": FOREVER}]}, {"responses": [GOOD]}]})
    path, home = _slow_job(tmp_path, scripted.base_url)
    store = JobStore(home / "jobs.sqlite") if (home / "jobs.sqlite").exists() else None
    proc = _cli("run", str(path), "--quiet", home=home)
    _wait(lambda: (home / "jobs.sqlite").exists())
    store = JobStore(home / "jobs.sqlite")
    _wait(lambda: bool(store.jobs()) and store.jobs()[0]["finished_runs"] == 2)
    job_id = store.jobs()[0]["id"]
    assert store.jobs()[0]["status"] == "RUNNING"

    # a resume while the first process runs is refused, naming it
    second = _cli("run", "--resume", job_id, "--quiet", home=home)
    out, err = second.communicate(timeout=DEADLINE)
    assert second.returncode == 2, err
    assert err.strip().count("\n") == 0 and "Traceback" not in err
    assert f"job {job_id} is already running in pid {proc.pid}@" in err and " since 20" in err

    proc.send_signal(signal.SIGKILL)
    proc.wait(DEADLINE)
    listing = _cli("jobs", home=home)
    out, _ = listing.communicate(timeout=DEADLINE)
    assert job_id in out and "INTERRUPTED" in out and "RUNNING" not in out
    assert pn.status(job_id, store=store)["status"] == "INTERRUPTED"
    assert list(pn.jobs(store=store)["status"]) == ["INTERRUPTED"]

    # two resumes at once: one runs, the other is refused
    first, other = (_cli("run", "--resume", job_id, "--quiet", home=home) for _ in range(2))
    _wait(lambda: first.poll() is not None or other.poll() is not None)
    loser, winner = (first, other) if first.poll() is not None else (other, first)
    _, err = loser.communicate(timeout=DEADLINE)
    assert loser.returncode == 2 and f"pid {winner.pid}@" in err, err
    assert winner.poll() is None  # the winner is still waiting on its slow runs
    winner.send_signal(signal.SIGKILL)
    winner.wait(DEADLINE)

    scripted.set_script({"rules": [{"responses": [GOOD]}]})
    last = _cli("run", "--resume", job_id, "--quiet", home=home)
    _, err = last.communicate(timeout=DEADLINE)
    assert last.returncode == 0, err
    record = store.job(job_id)
    assert record["status"] == "SUCCESS" and record["finished_runs"] == 4 and record["attempts"] == 3


def test_a_lease_from_another_host_holds_until_it_expires(permutate_home: Path) -> None:
    store = JobStore()
    job_id = store.create_job("permutate", "j", {}, 1)
    store.start(job_id)
    conn = sqlite3.connect(store.path)
    with conn:
        conn.execute("UPDATE jobs SET lease_owner='x', lease_pid=1, lease_host='elsewhere', lease_since='2026-01-01T00:00Z', "
                     "heartbeat_at=? WHERE id=?", (time.time(), job_id))
    assert store.job(job_id)["status"] == "RUNNING"
    with pytest.raises(pn.PermutateError, match="already running in pid 1@elsewhere since 2026-01-01T00:00Z"):
        store.acquire_lease(job_id)
    with conn:
        conn.execute("UPDATE jobs SET heartbeat_at=? WHERE id=?", (time.time() - LEASE_EXPIRY_SEC - 1, job_id))
    conn.close()
    assert store.job(job_id)["status"] == "INTERRUPTED"
    store.acquire_lease(job_id)  # an expired lease is free
    assert store.job(job_id)["status"] == "RUNNING"


def test_the_writer_keeps_the_lease_alive(permutate_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from permutate_nb.core.store import job_store as store_module

    monkeypatch.setattr(store_module, "HEARTBEAT_SEC", 0.05)
    store = JobStore()
    job_id = store.create_job("permutate", "j", {}, 1)
    store.acquire_lease(job_id)
    store.start(job_id)
    first = store.job(job_id)["heartbeat_at"]
    writer = store.run_writer(job_id)
    try:
        _wait(lambda: store.job(job_id)["heartbeat_at"] > first, 10)
    finally:
        writer.close()
    store.finish(job_id, "SUCCESS")
    record = store.job(job_id)
    assert record["status"] == "SUCCESS" and record["lease_owner"] is None and record["lease_pid"] is None


def test_rows_finished_together_share_one_commit(permutate_home: Path) -> None:
    """The rows of one loop turn are one transaction: the write-ahead log grows by a few pages, not by
    a commit (two pages or more) a row, and each row is on disk when its ``save`` returns."""
    import asyncio

    store = JobStore()
    job_id = store.create_job("permutate", "j", {}, 64)
    store.acquire_lease(job_id)
    store.start(job_id)
    reader = sqlite3.connect(store.path)
    reader.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    writer = store.run_writer(job_id)

    async def save_all() -> None:
        await asyncio.gather(*(writer.save(i, {"i": i, "text": "x" * 40}, None) for i in range(64)))

    try:
        asyncio.run(save_all())
        _, frames, _ = reader.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        writer.close()
        reader.close()
    assert _stored_indices(store.path, job_id) == set(range(64))
    assert frames < 16, f"{frames} pages written for 64 rows of one group"


def test_the_cache_sees_an_answer_written_elsewhere_from_the_next_loop_turn(permutate_home: Path) -> None:
    """Look-ups of one loop turn share a read transaction; the next turn reads afresh, so an answer
    another process committed meanwhile is found. Outside a loop every look-up reads afresh."""
    import asyncio

    from permutate_nb.core.store.cache import ResponseCache

    cache = ResponseCache()
    other = sqlite3.connect(cache.path, isolation_level=None)

    def put_elsewhere(key: str) -> None:
        other.execute("INSERT INTO responses (key, value) VALUES (?, ?)", (key, '{"content": "hi"}'))

    async def look() -> None:
        assert cache.get("k1") is None
        put_elsewhere("k1")
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert cache.get("k1") == {"content": "hi"}
        await cache.aclose()

    try:
        assert cache.get("k0") is None
        put_elsewhere("k0")
        assert cache.get("k0") == {"content": "hi"}
        asyncio.run(look())
    finally:
        other.close()
