"""A resumed job is the same job: its run options (``--no-cache``), its first start, its total time,
and runs scheduled interleaved so that a job stopped early is a balanced sample.

Real CLI processes stopped with a real SIGINT once the scripted server holds the next call.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import yaml

from permutate_nb.core.request.matrix import run_order
from permutate_nb.core.store.job_store import JobStore

from ..helpers import DEADLINE, cli_process, committed_runs, klarna_request, wait_until

GOOD = {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}}


def _two_permutation_job(tmp_path: Path, base_url: str) -> Path:
    data = klarna_request(base_url=base_url, concurrency=1)
    template, perm = data["test_cases"][0], data["permutations"][0]
    data["test_cases"] = [{**template, "name": f"case{i}", "prompt": f"shirts number {i}"} for i in range(4)]
    data["permutations"] = [perm, {**perm, "name": "p2", "llm": {**perm["llm"], "temperature": 0.5}}]
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_run_order_interleaves_permutations_languages_and_cases() -> None:
    order = list(run_order(permutations=2, cases=3, languages=2, repeats=2))
    assert sorted(order) == list(range(24))  # every run once
    # matrix index = ((permutation * cases + case) * languages + language) * repeats + repeat
    assert order[:4] == [0, 12, 2, 14]  # case 0, English: p1 then p2; then case 0 in the second language
    first_half = order[:12]
    assert all(i % 2 == 0 for i in first_half)  # every case and language once before any second repeat
    per_permutation = [sum(1 for i in order[:6] if i // 12 == p) for p in (0, 1)]
    assert per_permutation == [3, 3]


def test_a_resumed_no_cache_job_keeps_its_options_start_and_time(scripted: Any, tmp_path: Path) -> None:
    path, home = _two_permutation_job(tmp_path, scripted.base_url), tmp_path / "home"
    scripted.set_script({"rules": [{"responses": [GOOD]}]})
    warm = cli_process("run", str(path), "--quiet", home=home)  # fills the response cache for every run
    assert warm.wait(DEADLINE) == 0, warm.communicate()[1]
    store = JobStore(home / "jobs.sqlite")
    warm_id = store.jobs()[0]["id"]
    scripted.reset()

    scripted.set_script({"rules": [{"responses": [GOOD] * 3 + [{**GOOD, "hold": True}]}]})
    proc = cli_process("run", str(path), "--no-cache", "--quiet", home=home)
    wait_until(lambda: len(store.jobs()) == 2 and len(scripted.requests) == 4)
    job_id = next(job["id"] for job in store.jobs() if job["id"] != warm_id)
    wait_until(lambda: committed_runs(store.path, job_id) == 3)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=DEADLINE)
    scripted.release()
    first = store.job(job_id)
    assert first["status"] == "CANCELLED" and first["options"] == {"cache": False}
    # interleaved: p1 and p2 answered case0, then p1 case1; not three runs of p1
    assert sorted(store.runs(job_id)) == [0, 1, 4]

    scripted.set_script({"rules": [{"responses": [GOOD]}]})
    scripted.reset()
    resumed = cli_process("run", "--resume", job_id, "--quiet", home=home)
    _, err = resumed.communicate(timeout=DEADLINE)
    assert resumed.returncode == 0, err
    assert len(scripted.requests) == 5  # the five runs left were asked, none answered from the cache
    rows = store.runs(job_id)
    assert len(rows) == 8 and not any(row["cached"] for row in rows.values())
    after = store.job(job_id)
    assert after["started_at"] == first["started_at"] and after["attempts"] == 2
    assert after["data"]["started_on"] == first["data"]["started_on"]
    assert after["data"]["job_name"] == first["data"]["job_name"]
    assert after["data"]["total_run_time"] >= first["data"]["total_run_time"] > 0


def test_an_option_given_to_the_resume_wins(scripted: Any, tmp_path: Path) -> None:
    import permutate_nb as pn
    from permutate_nb.core.api import _plan

    path = _two_permutation_job(tmp_path, scripted.base_url)
    scripted.set_script({"rules": [{"responses": [GOOD]}]})
    result = pn.run(str(path), cache=False, concurrency=3)
    planned = _plan("resume", result.job_id, None, None)
    assert planned.options({"cache": None, "concurrency": None}) == {"cache": False, "concurrency": 3}
    assert planned.options({"cache": True, "concurrency": None}) == {"cache": True, "concurrency": 3}
