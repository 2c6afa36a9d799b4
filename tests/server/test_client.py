"""pn.Client against a real server: the same result objects, progress fed by polls, errors as exceptions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import permutate_nb as pn
from permutate_nb.core.jobs.events import Reporter
from tests.helpers import klarna_request

from .conftest import LiveServer
from .helpers import TOOL_CALL


class Recording(Reporter):
    def __init__(self) -> None:
        self.started: Any = None
        self.finished: list[tuple[str, bool, bool]] = []
        self.result: Any = None

    def job_started(self, event: Any) -> None:
        self.started = event

    def run_finished(self, index: int, detail: Any) -> None:
        self.finished.append((detail.permutation_name, detail.is_run_completed, detail.passed))

    def job_finished(self, result: Any) -> None:
        self.result = result


def test_run_returns_a_job_result_with_progress_from_polls(api: LiveServer, scripted: Any, tmp_path: Path) -> None:
    scripted.set_script(TOOL_CALL)
    scripted.delay = 0.05
    request = klarna_request(base_url=scripted.base_url, concurrency=1, repeats=5, cache=False)
    recording = Recording()
    with pn.Client(api.url, poll_interval=0.02) as client:
        result = client.run(request, reporter=recording)
        assert isinstance(result, pn.JobResult) and result.status == "SUCCESS"
        assert result.summary["total_test_cases"] == 10 and result.summary["overall_accuracy"] == 100.0
        assert result.to_dict()["details"] == pn.results(result.job_id).to_dict()["details"]  # the server's store
        assert recording.started.total_runs == 10 and recording.started.permutations == ("p1",)
        assert recording.finished == [("p1", True, True)] * 10 and recording.result is result
        assert list(result.summary_df.index) == ["p1", "(all)"]
        assert "text/html" in result._repr_mimebundle_()  # the same rich display
        assert result.to_excel(tmp_path / "r.xlsx").is_file()
        assert client.download(result.job_id, str(tmp_path / "r.csv")) == str(tmp_path / "r.csv")
        assert pd.read_csv(tmp_path / "r.csv")["passed"].all()
        jobs = client.jobs(status="SUCCESS")
        assert list(jobs["id"]) == [result.job_id]


def test_default_progress_is_a_tqdm_bar_outside_a_notebook(api: LiveServer, scripted: Any,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    scripted.set_script(TOOL_CALL)
    scripted.delay = 0.05
    with pn.Client(api.url, poll_interval=0.02) as client:
        client.run(klarna_request(base_url=scripted.base_url, concurrency=1, repeats=4, cache=False))
    assert "8/8" in capsys.readouterr().err


def test_batch_and_evaluate(api: LiveServer, scripted: Any) -> None:
    scripted.set_script({"rules": [{"match": "Grade an answer", "responses": [{"text": '{"score": 1, "reasoning": "ok"}'}]},
                                   {"match": "capital", "responses": [{"text": "Paris"}]}]})
    with pn.Client(api.url, poll_interval=0.02) as client:
        batch = client.batch(pd.DataFrame([{"prompt": "The capital of France?", "model": "m1"},
                                           {"prompt": "capital, again", "model": "m2"}]))
        assert isinstance(batch, pn.BatchResult) and batch.status == "SUCCESS"
        assert batch.job_id == batch.to_pandas().attrs["job_id"] and pn.results(batch.job_id).status == "SUCCESS"
        assert list(batch.frame["result"]) == ["Paris", "Paris"] and list(batch.frame["status"]) == ["completed"] * 2
        ev = client.evaluate([{"id": "q1", "input": "What is the capital of France?", "expected_output": "Paris"}],
                             model="gpt-4o-mini", metrics=["exact-match", "answer-correctness"])
        assert isinstance(ev, pn.EvalResult) and ev.status == "SUCCESS"
        assert dict(zip(ev.summary_df["metric_type"], ev.summary_df["mean"])) == {"exact-match": 1.0,
                                                                                   "answer-correctness": 1.0}
        assert ev.to_dict()["outputs"][0]["output"]["generation_output"] == "Paris"


def test_errors_come_back_as_the_projects_exceptions(api: LiveServer, start_server: Any, scripted: Any) -> None:
    with pn.Client(api.url) as client:
        with pytest.raises(pn.RequestError, match=r"test_cases\[0\]\.type: unknown test case type 'x'"):
            client.submit({**klarna_request(), "test_cases": [{**klarna_request()["test_cases"][0], "type": "x"}]})
        with pytest.raises(pn.PermutateError, match="no job 'nope'"):
            client.status("nope")
    keyed = start_server(api_key="k")
    with pn.Client(keyed.url, api_key="wrong") as client:
        with pytest.raises(pn.ConfigurationError, match="refused the API key"):
            client.jobs()
    with pn.Client(keyed.url, api_key="k") as client:
        assert client.jobs().empty


def test_the_notebook_bars_are_fed_by_polls(api: LiveServer, scripted: Any) -> None:
    from permutate_nb.notebook.progress import NotebookProgress

    scripted.set_script({"rules": [{"match": "Find 5", "responses": [{"status": 400}]},
                                   {"match": "T shirts", "responses": [TOOL_CALL["default"]]}]})
    scripted.delay = 0.05
    bars = NotebookProgress({"p1": 6})
    with pn.Client(api.url, poll_interval=0.02) as client:
        result = client.run(klarna_request(base_url=scripted.base_url, concurrency=1, repeats=3, cache=False,
                                           max_retries=0), reporter=bars)
    bar = bars._bars["p1"]
    assert (bar.done, bar.passed, bar.errored) == (6, 3, 3) and bar.bar.value == 6
    assert result.summary["failed_cases"] == 3
