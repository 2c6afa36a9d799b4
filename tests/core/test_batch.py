"""Batch executions against the scripted OpenAI-compatible server."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

import permutate_nb as pn
from permutate_nb.cli import main
from tests.helpers import DEADLINE, FOREVER, wait_until


@pytest.fixture
def models(scripted: Any) -> dict[str, Any]:
    return {"fast": {"provider": "OpenAIChat", "model_name": "gpt-4o-mini", "base_url": scripted.base_url},
            "other": {"model_name": "gpt-4o", "base_url": scripted.base_url, "params": {"temperature": 0}}}


@pytest.fixture(autouse=True)
def _batch_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("ASSISTANTS_DEFAULT_MODEL_ID_OR_NAME", "DEFAULT_MAX_THREADS", "MAX_EXECUTIONS_PER_BATCH",
                 "MAX_PROMPT_LENGTH", "MAX_CONCURRENT_BATCHES", "EXECUTION_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_chaining_and_carried_columns(scripted: Any, models: dict[str, Any]) -> None:
    scripted.set_script({"rules": [
        {"match": "capital of France", "responses": [{"text": "Paris"}]},
        {"match": "Paris", "responses": [{"text": "About 2 million people."}]},
    ]})
    csv_text = "prompt,model,topic\nWhat is the capital of France?,fast,geo\nHow many people live in ${output.1}?,other,geo\n"
    frame = pn.batch(csv_text, models=models).frame
    assert list(frame.columns[:11]) == ["row", "prompt", "model", "result", "status", "error", "duration_sec",
                                        "prompt_tokens", "completion_tokens", "total_tokens", "cost"]
    assert list(frame["result"]) == ["Paris", "About 2 million people."]
    assert frame.loc[1, "prompt"] == "How many people live in Paris?"
    assert list(frame["status"]) == ["completed", "completed"] and list(frame["topic"]) == ["geo", "geo"]
    bodies = [r["json"] for r in scripted.requests]
    assert {b["model"] for b in bodies} == {"gpt-4o-mini", "gpt-4o"}
    assert frame.loc[0, "cost"] > 0 and frame.attrs["job_id"]
    assert pn.status(frame.attrs["job_id"])["status"] == "SUCCESS"


def test_independent_rows_run_concurrently(scripted: Any, models: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    scripted.set_script({"default": {"text": "ok"}})
    monkeypatch.setenv("DEFAULT_MAX_THREADS", "4")
    scripted.hold()  # no reply until all 4 calls are in flight at once
    with ThreadPoolExecutor(1) as pool:
        frame = pool.submit(pn.batch, [{"prompt": f"p{i}", "model": "fast"} for i in range(4)], models=models, cache=False)
        _until(lambda: len(scripted.requests) == 4)
        scripted.release()
        assert (frame.result(timeout=DEADLINE).frame["status"] == "completed").all()


def test_failed_dependency_fails_dependents(scripted: Any, models: dict[str, Any]) -> None:
    scripted.set_script({"rules": [{"match": "first", "responses": [{"status": 400}]}], "default": {"text": "fine"}})
    frame = pn.batch([{"prompt": "first", "model": "fast"}, {"prompt": "then ${output.1}", "model": "fast"},
                      {"prompt": "alone", "model": "fast"}], models=models, cache=False).frame
    assert list(frame["status"]) == ["failed", "failed", "completed"]
    assert "HTTP 400" in frame.loc[0, "error"] and frame.loc[1, "error"] == "depends on row 1, which did not complete"
    assert pn.status(frame.attrs["job_id"])["status"] == "PARTIAL_SUCCESS"


def test_timeout_and_429(scripted: Any, models: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    scripted.set_script({"rules": [
        {"match": "slow", "responses": [{"text": "late", "delay": FOREVER}]},
        {"match": "busy", "responses": [{"status": 429, "headers": {"Retry-After": "0"}}, {"text": "now"}]},
    ]})
    frame = pn.batch("prompt,model\nbusy,fast\n", models=models, cache=False).frame  # the default EXECUTION_TIMEOUT
    assert list(frame["status"]) == ["completed"] and frame.loc[0, "result"] == "now"
    monkeypatch.setenv("EXECUTION_TIMEOUT", "0.5")  # a reply that never comes: nothing here may finish in time
    frame = pn.batch("prompt,model\nslow,fast\n", models=models, cache=False).frame
    assert list(frame["status"]) == ["timeout"] and "EXECUTION_TIMEOUT=0.5" in frame.loc[0, "error"]


@pytest.mark.parametrize("rows, env, message", [
    ([{"prompt": "a"}, {"prompt": "b ${output.2}"}], {}, r"row 2: \$\{output.2\} refers to the row itself"),
    ([{"prompt": "a ${output.2}"}, {"prompt": "b"}], {}, r"row 1: \$\{output.2\} refers to a later row"),
    ([{"prompt": "a ${output.7}"}], {}, r"row 1: \$\{output.7\} refers to a row that does not exist"),
    ([{"prompt": "x" * 20}], {"MAX_PROMPT_LENGTH": "10"}, r"row 1: the prompt has 20 characters; MAX_PROMPT_LENGTH is 10"),
    ([{"prompt": "a"}] * 3, {"MAX_EXECUTIONS_PER_BATCH": "2"}, r"the batch has 3 rows; MAX_EXECUTIONS_PER_BATCH is 2"),
])
def test_refused_before_running(scripted: Any, models: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                rows: list[dict[str, str]], env: dict[str, str], message: str) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    rows = [{**r, "model": "fast"} for r in rows]
    with pytest.raises(pn.RequestError, match=message):
        pn.batch(rows, models=models)
    assert scripted.requests == []


def test_dotenv_is_read_by_the_cli_never_by_the_library(scripted: Any, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """``./.env`` sets the batch limits and default model for ``permutate``, but a library call ignores it."""
    monkeypatch.setattr(os, "environ", dict(os.environ))  # what the CLI reads into the environment goes with the test
    (tmp_path / ".env").write_text("ASSISTANTS_DEFAULT_MODEL_ID_OR_NAME=gpt-4.1-mini\nMAX_PROMPT_LENGTH=5\n")
    scripted.set_script({"default": {"text": "hi"}})
    models = {"gpt-4.1-mini": {"base_url": scripted.base_url}, "fast": {"base_url": scripted.base_url}}
    frame = pn.batch([{"prompt": "longer than five", "model": "fast"}], models=models, cache=False).frame
    assert list(frame["status"]) == ["completed"]  # the library did not read ./.env
    (tmp_path / "models.yaml").write_text(f"gpt-4.1-mini: {{base_url: '{scripted.base_url}'}}\n")
    (tmp_path / "in.csv").write_text("prompt\nhello there\n")
    assert main(["batch", "in.csv", "--models", "models.yaml", "--quiet"]) == 2  # MAX_PROMPT_LENGTH=5 from ./.env
    (tmp_path / ".env").write_text("ASSISTANTS_DEFAULT_MODEL_ID_OR_NAME=gpt-4.1-mini\n")
    os.environ.pop("MAX_PROMPT_LENGTH")
    assert main(["batch", "in.csv", "--models", "models.yaml", "--quiet"]) == 0
    assert scripted.requests[-1]["json"]["model"] == "gpt-4.1-mini"  # the default model from ./.env


def test_cli_batch_outputs_and_exit_codes(scripted: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scripted.set_script({"default": {"text": "=cmd|' /C calc'!A0"}})
    (tmp_path / "models.yaml").write_text(f"fast: {{base_url: '{scripted.base_url}', model_name: gpt-4o-mini}}\n")
    (tmp_path / "in.csv").write_text("prompt,model\nhello,fast\nbye,fast\n")
    assert main(["batch", "in.csv", "--models", "models.yaml", "--output", "out.xlsx", "--quiet"]) == 0
    ws = load_workbook(tmp_path / "out.xlsx")["Results"]
    header = [c.value for c in ws[1]]
    cell = ws.cell(row=2, column=header.index("result") + 1)
    assert cell.value == "=cmd|' /C calc'!A0" and cell.data_type == "s"
    assert main(["batch", "in.csv", "--models", "models.yaml", "--output", "out.csv", "--quiet"]) == 0
    assert "'=cmd" in (tmp_path / "out.csv").read_text()
    (tmp_path / "bad.csv").write_text("prompt,model\nuse ${output.3},fast\n")
    assert main(["batch", "bad.csv", "--models", "models.yaml", "--quiet"]) == 2
    assert "row 1: ${output.3}" in capsys.readouterr().err


def test_process_csv_runs_nothing(scripted: Any, tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("prompt,model\nWhat is the capital of France?,Granite 13B V2.1\nWhat is 2+2?,Llama3 8B Instruct\n")
    assert main(["batch", "in.csv", "--process-csv", "--output", "empty.xlsx"]) == 0
    ws = load_workbook(tmp_path / "empty.xlsx")["Results"]
    header = [c.value for c in ws[1]]
    assert header[:5] == ["row", "prompt", "model", "result", "status"]
    assert ws.cell(row=3, column=3).value == "Llama3 8B Instruct" and ws.cell(row=3, column=4).value is None
    assert scripted.requests == []


def test_submit_returns_at_once_then_status_and_results(scripted: Any, models: dict[str, Any]) -> None:
    scripted.set_script({"default": {"text": "done"}})
    scripted.hold()  # submit returns while no call has been answered
    job_id = pn.submit("batch", [{"prompt": "a", "model": "fast"}, {"prompt": "b", "model": "fast"}], models=models, cache=False).job_id
    assert pn.status(job_id)["status"] in ("PENDING", "RUNNING")
    scripted.release()
    _until(lambda: pn.status(job_id)["status"] not in ("PENDING", "RUNNING"))
    record = pn.status(job_id)
    assert record["status"] == "SUCCESS" and record["finished_runs"] == 2 and record["attempts"] == 1
    assert list(pn.results(job_id).frame["result"]) == ["done", "done"]
    assert job_id in list(pn.jobs()["id"])


def test_max_concurrent_batches_queues_the_next_one(scripted: Any, models: dict[str, Any],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    scripted.set_script({"default": {"text": "ok"}})
    monkeypatch.setenv("MAX_CONCURRENT_BATCHES", "1")
    scripted.hold()  # the first batch's call waits until release()
    first = pn.submit("batch", [{"prompt": "a", "model": "fast"}], models=models, cache=False).job_id
    _until(lambda: len(scripted.requests) == 1)
    second = pn.submit("batch", [{"prompt": "b", "model": "fast"}], models=models, cache=False).job_id
    _until(lambda: pn.status(second)["status"] == "PENDING")
    assert pn.status(first)["status"] == "RUNNING" and len(scripted.requests) == 1  # the second asked nothing
    scripted.release()
    _until(lambda: pn.status(second)["status"] == "SUCCESS")
    assert pn.status(first)["ended_at"] <= pn.status(second)["started_at"]


def _until(condition: Any) -> None:
    wait_until(condition)
