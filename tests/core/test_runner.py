"""The one runner: deadlines per unit, one status vocabulary, one result surface for every job kind."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

import permutate_nb as pn
from permutate_nb.core.jobs.batch_result import RESULT_COLUMNS

from ..helpers import FOREVER, cpu_growth, klarna_request

GOOD = {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}}


@pytest.fixture(autouse=True)
def _batch_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DEFAULT_MAX_THREADS", "MAX_CONCURRENT_BATCHES", "EXECUTION_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def _models(scripted: Any) -> dict[str, Any]:
    return {"fast": {"model_name": "gpt-4o-mini", "base_url": scripted.base_url}}


def test_a_batch_row_ends_at_execution_timeout(scripted: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    scripted.set_script({"rules": [{"match": "slow", "responses": [{"text": "late", "delay": FOREVER}]}]})
    monkeypatch.setenv("EXECUTION_TIMEOUT", "0.5")
    result = pn.batch("prompt,model\nslow,fast\n", models=_models(scripted), cache=False)
    frame = result.frame
    assert list(frame["status"]) == ["timeout"] and frame.loc[0, "error"] == "no answer within EXECUTION_TIMEOUT=0.5 s"
    assert frame.loc[0, "duration_sec"] >= 0.5  # a lower bound; the reply it did not wait for never comes
    assert result.status == "ERROR" == pn.status(result.job_id)["status"]


def test_the_deadline_covers_the_retries(scripted: Any) -> None:
    """503s retried 10 times with backoff would take a minute; the run ends at its 1.5 s deadline."""
    scripted.set_script({"default": {"status": 503, "delay": 0.1}})
    request = klarna_request(base_url=scripted.base_url, cache=False, timeout_sec=1.5, max_retries=10)
    request["test_cases"] = request["test_cases"][:1]
    result = pn.run(request)
    detail = result.details[0]
    assert not detail.is_run_completed
    assert detail.error == "no answer within config.timeout_sec=1.5 s (the run's deadline, retries included)"
    assert detail.response_time_sec >= 1.5
    assert 1 <= len(scripted.requests) < 11  # stopped at the deadline, before the 10 retries ran out


def test_retry_after_never_outlasts_the_deadline(scripted: Any) -> None:
    scripted.set_script({"default": {"status": 429, "headers": {"Retry-After": "3600"}}})
    request = klarna_request(base_url=scripted.base_url, cache=False, timeout_sec=3, max_retries=5)
    result = pn.run(request)  # the 3600 s were not waited: the test would have hit its pytest-timeout
    for detail in result.details:
        assert not detail.is_run_completed
        assert "Retry-After of 3600 s would pass the run's deadline" in detail.error, detail.error
    assert result.status == "ERROR" and "Retry-After" in pn.status(result.job_id)["error_message"]


@pytest.mark.parametrize("rules, expected", [
    ([{"responses": [GOOD]}], "SUCCESS"),
    ([{"match": "Show me", "responses": [GOOD]}, {"responses": [{"status": 401}]}], "PARTIAL_SUCCESS"),
    ([{"responses": [{"status": 401}]}], "ERROR"),
])
def test_a_permutate_result_says_what_the_store_says(scripted: Any, rules: list[dict[str, Any]], expected: str) -> None:
    scripted.set_script({"rules": rules})
    result = pn.run(klarna_request(base_url=scripted.base_url, cache=False))
    stored = pn.results(result.job_id)
    assert result.status == stored.status == pn.status(result.job_id)["status"] == expected
    assert result.to_dict()["status"] == expected
    assert stored.to_dict()["details"] == result.to_dict()["details"]


def test_batch_and_eval_results_say_what_the_store_says(scripted: Any) -> None:
    scripted.set_script({"default": {"status": 401}})
    batch = pn.batch("prompt,model\na,fast\nb,fast\n", models=_models(scripted), cache=False)
    assert batch.status == pn.results(batch.job_id).status == pn.status(batch.job_id)["status"] == "ERROR"
    ev = pn.evaluate([{"id": "q", "input": "2+2?", "expected_output": "4"}], models=["fast"],
                     model_settings=_models(scripted), metrics=["exact-match"], cache=False)
    assert ev.status == pn.results(ev.job_id).status == pn.status(ev.job_id)["status"] == "ERROR"


def test_every_result_has_one_surface(scripted: Any, tmp_path: Path) -> None:
    scripted.set_script({"default": GOOD})
    job = pn.run(klarna_request(base_url=scripted.base_url, cache=False))
    scripted.set_script({"default": {"text": "4"}})
    batch = pn.batch("prompt,model,topic\n2+2?,fast,maths\n", models=_models(scripted), cache=False)
    ev = pn.evaluate([{"id": "q", "input": "2+2?", "expected_output": "4"}], models=["fast"],
                     model_settings=_models(scripted), metrics=["exact-match"], cache=False)
    frames = {"job": job.to_pandas(), "batch": batch.to_pandas(), "eval": ev.to_pandas()}
    assert list(frames["job"]["test_case_name"]) == ["shirts", "shirts_params"]
    assert list(frames["batch"].columns) == [*RESULT_COLUMNS, "topic"] and frames["batch"].attrs["job_id"] == batch.job_id
    assert list(frames["eval"]["score"]) == [1.0]
    for name, result in {"job": job, "batch": batch, "eval": ev}.items():
        assert result.status == "SUCCESS" and len(result.job_id) == 12
        bundle = result._repr_mimebundle_()
        assert set(bundle) == {"text/plain", "text/html"}
        for suffix in (".json", ".csv", ".xlsx"):
            path = result.write(tmp_path / f"{name}{suffix}")
            assert path.stat().st_size > 0
        assert json.loads((tmp_path / f"{name}.json").read_text())  # valid JSON
        assert load_workbook(tmp_path / f"{name}.xlsx").sheetnames
    assert json.loads((tmp_path / "job.json").read_text())["job_name"] == job.job_name
    assert json.loads((tmp_path / "eval.json").read_text())["outputs"] == ev.outputs
    with pytest.raises(pn.ConfigurationError, match=r"unknown output type \.txt; use \.json, \.jsonl, \.csv, \.xlsx, \.parquet"):
        batch.write(tmp_path / "batch.txt")


def test_load_request_leaves_the_callers_dict_alone() -> None:
    data = klarna_request()
    data["plugin_groups"][0]["plugins"] = [{"plugin": {"manifest_url": data["plugin_groups"][0]["plugins"][0]["manifest_url"]}}]
    data["permutations"] = [{"permutation": data["permutations"][0]}]
    before = copy.deepcopy(data)
    pn.load_request(data)
    assert data == before


def test_duplicate_case_ids_are_found_in_linear_time() -> None:
    cases = [{"id": f"c{i}", "input": f"question {i}"} for i in range(40_000)]
    assert len(pn.load_dataset(cases).cases) == 40_000
    growth = cpu_growth(lambda n: pn.load_dataset(cases[:n]), 10_000)  # the quadratic check gave about 16
    assert growth < 10, growth  # about 4.6 measured
    with pytest.raises(pn.RequestError, match="case id 'c7' appears twice"):
        pn.load_dataset([*cases, {"id": "c7", "input": "again"}])


def test_the_kinds_table_names_real_jobs_and_plans() -> None:
    """Every kind's Job class is found under the name the store records, and ``job_for`` turns each
    plan class back into its kind (the table is the one place kinds are listed)."""
    import importlib

    from permutate_nb.core.jobs import kinds
    from permutate_nb.core.jobs.kinds import KINDS, job_class, job_for

    planned = set()
    for kind, (_, plan_path) in KINDS.items():
        assert job_class(kind).kind == kind
        if plan_path is not None:
            module, _, name = plan_path.partition(":")
            plan_type = getattr(importlib.import_module(f"permutate_nb.core.jobs.{module}"), name)
            assert kinds._PLANS[f"{plan_type.__module__}.{plan_type.__qualname__}"] == kind  # what job_for looks up
            planned.add(kind)
    assert planned == {"permutate", "batch", "eval", "generate"}
    with pytest.raises(TypeError, match="not a plan"):
        job_for(object())
