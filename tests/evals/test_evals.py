"""Eval jobs against a scripted generator and judge on the local OpenAI-compatible server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from openpyxl import load_workbook

import permutate_nb as pn
from permutate_nb.cli import main

JUDGE = "Grade an answer"
CASES = [
    {"id": "q1", "input": "What is the capital of France?", "expected_output": "Paris",
     "context": [{"text": "Paris is the capital of France.", "metadata": {"source": "atlas"}}]},
    {"id": "q2", "input": "Who wrote Hamlet?", "expected_output": "William Shakespeare"},
]


@pytest.fixture
def settings(scripted: Any) -> dict[str, Any]:
    return {"gen": {"model_name": "gpt-4o-mini", "base_url": scripted.base_url},
            "judge": {"model_name": "gpt-4o", "base_url": scripted.base_url}}


def _script(scripted: Any, judge: list[dict[str, Any]]) -> None:
    scripted.set_script({"rules": [
        {"match": JUDGE, "responses": judge},
        {"match": "capital", "responses": [{"text": "Paris"}]},
        {"match": "Hamlet", "responses": [{"text": "Shakespeare"}]},
    ]})


def test_good_verdicts(scripted: Any, settings: dict[str, Any]) -> None:
    _script(scripted, [{"text": '{"score": 0.9, "reasoning": "matches the reference"}'}])
    result = pn.evaluate(CASES, models=["gen"], judge_model="judge", model_settings=settings,
                         metrics=["answer-correctness", "faithfulness", "exact-match", "token-f1", "rouge-l"])
    assert result.status == "SUCCESS"
    data = result.to_dict()
    assert data["status"] == "SUCCESS" and data["job_name"] == "eval_dataset_job" and data["attempts"] == 1
    for key in ("id", "created_at", "started_at", "ended_at", "error_code", "error_message", "outputs"):
        assert key in data
    first = data["outputs"][0]
    assert first["test_case_id"] == "q1" and first["output"]["generation_output"] == "Paris"
    assert first["output"]["generation_extra_info"]["chunks"][0]["metadata"] == {"source": "atlas"}
    scores = {s["metric_type"]: s for s in first["metric_scores"]}
    assert scores["answer-correctness"]["score"] == 0.9 and scores["answer-correctness"]["category"] == "accuracy"
    meta = scores["answer-correctness"]["llm_metadata"]
    assert meta["reasoning"] == "matches the reference" and meta["time_elapsed_s"] >= 0
    assert meta["usage"][0]["model"] == "gpt-4o" and meta["usage"][0]["prompt_tokens"] > 0 and meta["usage"][0]["cost"] > 0
    assert scores["exact-match"]["score"] == 1.0 and scores["faithfulness"]["category"] == "retrieval"
    second = {s["metric_type"]: s for s in data["outputs"][1]["metric_scores"]}
    assert second["faithfulness"]["score"] is None and "no context" in second["faithfulness"]["llm_metadata"]["reasoning"]
    assert second["token-f1"]["score"] == pytest.approx(2 * 1 * 0.5 / 1.5)
    kinds = [(s["operation_type"], s["operation_status"]) for s in first["interaction"]["trace_spans"]]
    assert kinds[0] == ("COMPLETION", "SUCCESS") and kinds.count(("EVALUATION", "SUCCESS")) == 5
    span = first["interaction"]["trace_spans"][0]
    assert {"start_timestamp", "duration_ms", "input", "output"} <= set(span)
    assert first["test_case_version"]["test_case_data"]["expected_output"] == "Paris"
    judge_prompts = [r["json"] for r in scripted.requests if JUDGE in r["json"]["messages"][0]["content"]]
    assert judge_prompts and all(b["response_format"] == {"type": "json_object"} for b in judge_prompts)
    summary = result.summary_df.set_index("metric_type")
    assert summary.loc["answer-correctness", "mean"] == pytest.approx(0.9) and summary.loc["faithfulness", "scored"] == 1
    assert result.pivot_df.shape == (2, 5)
    assert pn.status(result.id)["status"] == "SUCCESS"


def test_unreadable_verdicts_leave_null_scores(scripted: Any, settings: dict[str, Any]) -> None:
    _script(scripted, [{"text": "I think it's good!"}])
    result = pn.evaluate(CASES, models=["gen"], judge_model="judge", model_settings=settings,
                         metrics=["answer-correctness", "exact-match"])
    assert result.status == "PARTIAL_SUCCESS"
    df = result.scores_df.set_index(["test_case_id", "metric_type"])
    assert pd.isna(df.loc[("q1", "answer-correctness"), "score"])
    assert "not JSON" in df.loc[("q1", "answer-correctness"), "reasoning"]
    assert df.loc[("q1", "exact-match"), "score"] == 1.0
    record = pn.status(result.id)
    assert record["status"] == "PARTIAL_SUCCESS" and record["error_code"] == "SOME_STEPS_FAILED"


def test_judge_down_is_partial_success(scripted: Any, settings: dict[str, Any]) -> None:
    _script(scripted, [{"status": 503, "headers": {"Retry-After": "0"}}])
    result = pn.evaluate(CASES[:1], models=["gen"], judge_model="judge", model_settings=settings,
                         metrics=["answer-relevance", "rouge-l"])
    assert result.status == "PARTIAL_SUCCESS"
    scores = {s["metric_type"]: s for s in result.outputs[0]["metric_scores"]}
    assert scores["answer-relevance"]["score"] is None and "the judge failed" in scores["answer-relevance"]["llm_metadata"]["reasoning"]
    assert scores["rouge-l"]["score"] == 1.0
    spans = result.outputs[0]["interaction"]["trace_spans"]
    assert ("EVALUATION", "ERROR") in [(s["operation_type"], s["operation_status"]) for s in spans]


def test_generation_down_is_error(scripted: Any, settings: dict[str, Any]) -> None:
    scripted.set_script({"default": {"status": 401}})
    result = pn.evaluate(CASES, models=["gen"], model_settings=settings, metrics=["exact-match"])
    assert result.status == "ERROR"
    record = pn.status(result.id)
    assert record["status"] == "ERROR" and record["error_code"] == "ALL_GENERATIONS_FAILED"
    assert result.outputs[0]["interaction"]["trace_spans"][0]["operation_status"] == "ERROR"


def test_datasets_from_files(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(c) for c in CASES))
    (tmp_path / "d.csv").write_text('id,input,expected_output,context\nq1,"What?",yes,"some text"\n')
    (tmp_path / "d.yaml").write_text("name: mine\ncases:\n  - input: Hi\n    expected_output: Hello\n")
    jsonl, csv_data, yaml_data = (pn.load_dataset(tmp_path / f"d.{ext}") for ext in ("jsonl", "csv", "yaml"))
    assert jsonl.name == "d" and [c.id for c in jsonl.cases] == ["q1", "q2"]
    assert csv_data.cases[0].context_str == "some text"
    assert yaml_data.name == "mine" and len(yaml_data.cases[0].id) == 12
    assert jsonl.version == pn.load_dataset(tmp_path / "d.jsonl").version != csv_data.version
    (tmp_path / "bad.jsonl").write_text('{"input": "x"}\nnot json\n')
    with pytest.raises(pn.RequestError, match="bad.jsonl, line 2: not JSON"):
        pn.load_dataset(tmp_path / "bad.jsonl")


def test_cli_eval_and_exports(scripted: Any, settings: dict[str, Any], tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    _script(scripted, [{"text": '{"score": 1, "reasoning": "right"}'}])
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(c) for c in CASES))
    import yaml

    (tmp_path / "models.yaml").write_text(yaml.safe_dump(settings))
    args = ["eval", str(tmp_path / "d.jsonl"), "--model", "gen", "--judge-model", "judge", "--models",
            str(tmp_path / "models.yaml"), "--metrics", "answer-correctness,exact-match", "--quiet"]
    assert main([*args, "--output", str(tmp_path / "r.json")]) == 0
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["status"] == "SUCCESS" and len(data["outputs"]) == 2
    assert main([*args, "--output", str(tmp_path / "r.xlsx")]) == 0
    assert load_workbook(tmp_path / "r.xlsx").sheetnames == ["Summary", "Scores", "Outputs"]
    assert main(["eval", str(tmp_path / "d.jsonl"), "--model", "gen", "--metrics", "bleu"]) == 2
    assert "unknown metric 'bleu'" in capsys.readouterr().err


def test_eval_magic(scripted: Any, settings: dict[str, Any]) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "permutate_nb")
    _script(scripted, [{"text": '{"score": 0.5, "reasoning": "half"}'}])
    shell.user_ns["settings"] = settings
    res = shell.run_cell("%%permutate eval --out ev\nname: capitals\ncases:\n  - id: q1\n    input: What is the capital of France?\n"
                         "    expected_output: Paris\nmodels: [gen]\njudge_model: judge\nmetrics: [answer-correctness]\n"
                         "model_settings: settings\n")
    assert res.success, res.error_in_exec
    result = shell.user_ns["ev"]
    assert result.status == "SUCCESS" and result.summary_df["mean"].iloc[0] == 0.5
    bundle = result._repr_mimebundle_()
    assert "capitals" in bundle["text/plain"] and "95% CI" in bundle["text/html"]


def test_resume_eval(scripted: Any, settings: dict[str, Any]) -> None:
    _script(scripted, [{"text": '{"score": 1, "reasoning": "ok"}'}])
    from permutate_nb.core.jobs.evals.plan import plan_eval
    from permutate_nb.core.store.job_store import JobStore

    plan = plan_eval(CASES, models=["gen"], judge_model="judge", model_settings=settings, metrics=["answer-correctness"])
    store = JobStore()
    job_id = store.create_job("eval", plan.dataset.name, plan.request(), len(plan.units))
    store.start(job_id)
    first = pn.evaluate(CASES[:1], models=["gen"], judge_model="judge", model_settings=settings,
                        metrics=["answer-correctness"])
    writer = store.run_writer(job_id)
    writer.put(0, first.outputs[0])
    writer.close()
    calls = len(scripted.requests)
    resumed = pn.resume(job_id)
    assert [o["test_case_id"] for o in resumed.outputs] == ["q1", "q2"]
    assert len(scripted.requests) - calls == 2  # one generation and one judgement, for q2 only
    assert pn.status(job_id)["attempts"] == 2 and resumed.status == "SUCCESS"
    assert pn.results(job_id).outputs == resumed.outputs
