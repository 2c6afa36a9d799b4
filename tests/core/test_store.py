"""The job store: records, resume after SIGKILL, concurrent readers, the CLI's jobs/status/results."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import permutate_nb as pn
from permutate_nb.cli import main
from permutate_nb.core.store.job_store import JobStore

from ..helpers import DEADLINE, FOREVER, cli_process, klarna_request, wait_until

GOOD = {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}}


def _wait(condition: Callable[[], bool], seconds: float = DEADLINE) -> None:
    wait_until(condition, seconds, every=0.05)


_cli = cli_process


def _request(tmp_path: Path, base_url: str, cases: int = 6) -> Path:
    data = klarna_request(base_url=base_url, concurrency=2, cache=False)
    template = data["test_cases"][0]
    data["test_cases"] = [{**template, "name": f"case{i}", "prompt": f"{'slow' if i >= 3 else 'fast'} shirts {i}"}
                          for i in range(cases)]
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_job_is_recorded_and_readable(scripted: Any, permutate_home: Path) -> None:
    scripted.set_script({"rules": [{"responses": [GOOD]}]})
    result = pn.run(klarna_request(base_url=scripted.base_url, cache=False))
    record = pn.status(result.job_id)
    assert record["status"] == "SUCCESS" and record["kind"] == "permutate" and record["attempts"] == 1
    assert record["planned_runs"] == record["finished_runs"] == 2
    assert record["started_at"] <= record["ended_at"]
    again = pn.results(result.job_id)
    assert [d.to_dict() for d in again.details] == [d.to_dict() for d in result.details]
    assert again.summary["overall_accuracy"] == result.summary["overall_accuracy"]
    assert (permutate_home / "jobs.sqlite").exists()


def test_status_errors_and_all_failed(scripted: Any) -> None:
    scripted.set_script({"rules": [{"responses": [{"status": 400}]}]})
    result = pn.run(klarna_request(base_url=scripted.base_url, cache=False))
    record = pn.status(result.job_id)
    assert record["status"] == "ERROR" and record["error_code"] == "ALL_RUNS_FAILED" and "HTTP 400" in record["error_message"]
    with pytest.raises(pn.PermutateError, match="no job 'nope'"):
        pn.status("nope")


def test_resume_after_sigkill(scripted: Any, tmp_path: Path) -> None:
    scripted.set_script({"rules": [{"match": "slow", "responses": [{**GOOD, "delay": FOREVER}]}, {"responses": [GOOD]}]})
    path = _request(tmp_path, scripted.base_url)
    home = tmp_path / "home"
    proc = _cli("run", str(path), "--quiet", home=home)
    _wait(lambda: (home / "jobs.sqlite").exists())
    store = JobStore(home / "jobs.sqlite")
    _wait(lambda: bool(store.jobs()) and store.jobs()[0]["finished_runs"] == 3)
    proc.send_signal(signal.SIGKILL)  # at once: what the store shows is what survives
    proc.wait(DEADLINE)
    (job,) = store.jobs()
    assert job["status"] == "INTERRUPTED" and job["finished_runs"] == 3  # the three fast runs survived
    finished_before = store.runs(job["id"])
    calls_before = len(scripted.requests)

    scripted.set_script({"rules": [{"responses": [GOOD]}]})
    out = tmp_path / "resumed.json"
    resumed = _cli("run", "--resume", job["id"], "--quiet", "--output", str(out), home=home)
    stdout, stderr = resumed.communicate(timeout=DEADLINE)
    assert resumed.returncode == 0, stderr
    new_prompts = [r["json"]["messages"][0]["content"] for r in scripted.requests[calls_before:]]
    assert sorted(new_prompts) == [f"slow shirts {i}" for i in range(3, 6)]  # only the unfinished runs
    data = json.loads(out.read_text())
    assert [d["test_case_name"] for d in data["details"]] == [f"case{i}" for i in range(6)]
    for i, row in finished_before.items():
        assert data["details"][i] == row  # finished runs kept as they were
    record = store.job(job["id"])
    assert record["status"] == "SUCCESS" and record["attempts"] == 2 and record["finished_runs"] == 6

    uninterrupted = pn.run(yaml.safe_load(path.read_text())).to_dict()
    assert list(data) == list(uninterrupted) and list(data["summary"]) == list(uninterrupted["summary"])
    assert [list(d) for d in data["details"]] == [list(d) for d in uninterrupted["details"]]


def test_batch_resume_after_sigkill(scripted: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scripted.set_script({"rules": [{"match": "slow", "responses": [{"text": "late", "delay": FOREVER}]},
                                   {"responses": [{"text": "ok"}]}]})
    (tmp_path / "models.yaml").write_text(f"m: {{base_url: '{scripted.base_url}', model_name: gpt-4o-mini}}\n")
    (tmp_path / "b.csv").write_text("prompt,model\nfast 1,m\nfast 2,m\nslow 3,m\nafter ${output.3},m\n")
    home = tmp_path / "home"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PERMUTATE_HOME", str(home))
    proc = _cli("batch", "b.csv", "--models", "models.yaml", "--no-cache", "--quiet", home=home)
    _wait(lambda: (home / "jobs.sqlite").exists())
    store = JobStore(home / "jobs.sqlite")
    _wait(lambda: bool(store.jobs()) and store.jobs()[0]["finished_runs"] == 2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(DEADLINE)
    job_id = store.jobs()[0]["id"]
    scripted.set_script({"rules": [{"match": "slow", "responses": [{"text": "now"}]}, {"responses": [{"text": "ok"}]}]})
    calls_before = len(scripted.requests)
    assert main(["run", "--resume", job_id, "--quiet"]) == 0
    frame = pn.results(job_id, store=store).frame
    assert list(frame["status"]) == ["completed"] * 4
    assert frame.loc[3, "prompt"] == "after now"
    assert sorted(r["json"]["messages"][0]["content"] for r in scripted.requests[calls_before:]) == ["after now", "slow 3"]
    assert store.job(job_id)["attempts"] == 2 and store.job(job_id)["status"] == "SUCCESS"


def test_concurrent_readers_while_a_job_writes(scripted: Any, tmp_path: Path) -> None:
    scripted.set_script({"rules": [{"responses": [{**GOOD, "delay": 0.05}]}]})
    data = klarna_request(base_url=scripted.base_url, concurrency=4, cache=False, repeats=40)
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(data))
    home = tmp_path / "home"
    proc = _cli("run", str(path), "--quiet", home=home)
    _wait(lambda: (home / "jobs.sqlite").exists())
    store = JobStore(home / "jobs.sqlite")
    _wait(lambda: bool(store.jobs()))
    job_id = store.jobs()[0]["id"]
    seen = []
    while proc.poll() is None:
        seen.append(pn.status(job_id, store=store)["finished_runs"])
        pn.results(job_id, store=store)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    assert seen == sorted(seen) and len(set(seen)) > 2  # progress seen while it ran
    assert pn.status(job_id, store=store)["finished_runs"] == 80


def test_cli_jobs_status_results(scripted: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scripted.set_script({"rules": [{"responses": [GOOD]}]})
    result = pn.run(klarna_request(base_url=scripted.base_url, cache=False))
    capsys.readouterr()
    assert main(["jobs"]) == 0
    assert result.job_id in capsys.readouterr().out
    assert main(["status", result.job_id]) == 0
    out = capsys.readouterr().out
    assert "status: SUCCESS" in out and "finished_runs: 2" in out
    assert main(["results", result.job_id, "--output", str(tmp_path / "r.xlsx")]) == 0
    assert (tmp_path / "r.xlsx").exists()
    assert main(["status", "missing"]) == 2
    assert "no job 'missing'" in capsys.readouterr().err
