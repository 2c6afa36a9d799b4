"""The embedded model in-process: real llama.cpp, real GGUF, shapes and types of the calls."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml

import permutate_nb as pn
from permutate_nb.cli import main
from permutate_nb.core.context import default_context
from permutate_nb.core.llm import local
from permutate_nb.core.llm.base import ChatRequest
from permutate_nb.core.plugins.tools import build_toolset
from permutate_nb.core.request.models import LLMConfig

from ..helpers import DEADLINE, KLARNA, WEB_SEARCH, klarna_request, wait_until

EXAMPLE = Path(pn.__file__).parent / "examples" / "klarna_plugin_test.yaml"


def _local_request(**config: Any) -> dict[str, Any]:
    """The Klarna request on the embedded model, with a run deadline a busy machine meets."""
    data = klarna_request(**{"timeout_sec": 5 * DEADLINE, **config})
    data["permutations"][0]["llm"] = {"provider": "local", "temperature": 0}
    return data


def test_tool_selection_runs_in_process() -> None:
    result = pn.run(_local_request(cache=False))
    assert [d.test_case_name for d in result.details] == ["shirts", "shirts_params"]
    for row in result.details:
        assert row.is_run_completed, row.error
        assert row.permutation_summary == "local[SmolLM2-135M-Instruct] - OpenAI[default]"
        assert row.prompt_tokens > 0 and row.completion_tokens > 0
        assert row.llm_api_cost == 0.0
        # one tool in the group and a schema that only admits its name: always a valid call
        assert row.plugin_name == "Klarna Shopping" and row.plugin_method == "GET"
        assert isinstance(row.plugin_parameters_mapped, dict)
        assert row.response_time_sec > 0
    assert result.summary["total_llm_api_cost"] == 0.0


def test_constrained_decoding_picks_a_listed_tool() -> None:
    plugins = [pn.load_plugin(str(KLARNA)), pn.load_plugin(str(WEB_SEARCH))]
    toolset = build_toolset(plugins)
    provider = local.LocalProvider(LLMConfig(provider="local"), default_context().models)
    request = ChatRequest(
        messages=({"role": "user", "content": "Search the web for news about the James Webb telescope"},),
        tools_json=toolset.tools_json, tools_digest=toolset.digest, tool_choice="auto",
    )
    for _ in range(3):
        result = asyncio.run(provider.chat(request, DEADLINE))
        assert len(result.tool_calls) == 1 and result.tool_calls[0].name in toolset.by_name
        assert isinstance(__import__("json").loads(result.tool_calls[0].arguments), dict)


def test_model_is_loaded_once_per_process() -> None:
    pn.run(_local_request(cache=False))
    pn.run(_local_request(cache=False))
    assert len(default_context().models) == 1


def test_example_request_runs_offline_with_provider_local(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    example = yaml.safe_load(EXAMPLE.read_text())
    example["config"]["timeout_sec"] = 5 * DEADLINE  # as shipped but for the run deadline, for a busy machine
    path = tmp_path / "example.yaml"
    path.write_text(yaml.safe_dump(example, sort_keys=False))
    assert main(["run", str(path), "--provider", "local", "--quiet", "--no-cache", "--concurrency", "1"]) == 0
    out = capsys.readouterr().out
    assert "(all)" in out and "local" in out


def test_missing_model_file_is_reported_before_running(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _local_request()
    data["permutations"][0]["llm"]["model_path"] = str(tmp_path / "missing.gguf")
    path = tmp_path / "job.json"
    path.write_text(__import__("json").dumps(data))
    assert main(["run", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"model file not found: {tmp_path / 'missing.gguf'}" in err and "Traceback" not in err


def test_missing_extra_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(local.importlib.util, "find_spec", lambda name, *a: None if name == "llama_cpp" else real(name, *a))
    with pytest.raises(pn.MissingExtraError, match=r'pip install "permutate-nb\[local\]"'):
        pn.validate(_local_request())


def test_eval_end_to_end_on_the_embedded_model() -> None:
    cases = [{"id": "q1", "input": "What is the capital of France?", "expected_output": "Paris",
              "context": "Paris is the capital and largest city of France."}]
    result = pn.evaluate(cases, models=["local"], metrics=["answer-correctness", "faithfulness", "token-f1"])
    assert result.parameters["judge_model"] == "local"
    output = result.outputs[0]
    assert isinstance(output["output"]["generation_output"], str) and output["generation_error"] is None
    for score in output["metric_scores"]:
        assert score["score"] is None or 0.0 <= score["score"] <= 1.0
        if score["metric_type"] != "token-f1":  # judged by the embedded model, under a JSON schema
            assert not score["failed"], score["llm_metadata"]["reasoning"]
            assert score["llm_metadata"]["usage"][0]["cost"] == 0.0
    assert result.status == "SUCCESS"


def test_generation_stops_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """llama.cpp runs in a thread that cannot be cancelled: generation itself stops at the deadline.

    It stops between two tokens: the stopping check says so, far short of the 4,000 tokens asked for
    (a minute of generation), and the model's lock is free again without waiting for them."""
    story = "Write a very long story about a lighthouse keeper, chapter after chapter."
    provider = local.LocalProvider(LLMConfig(provider="local", max_tokens=4000), default_context().models)
    asyncio.run(provider.load())  # loaded first (a generation here could outlast any deadline on a busy machine)
    checks: list[bool] = []
    past = local._Deadlined._past

    def counted(self: Any, input_ids: Any, logits: Any) -> bool:
        checks.append(past(self, input_ids, logits))
        return checks[-1]

    monkeypatch.setattr(local._Deadlined, "_past", counted)
    _, lock = default_context().models.load(provider.path, 4096)
    with pytest.raises(pn.ProviderError, match=r"no answer within 1 s"):
        asyncio.run(provider.chat(ChatRequest(messages=({"role": "user", "content": story},)), 1.0))
    wait_until(lambda: not lock.locked(), what="the generation in the worker thread to stop")
    assert checks and checks[-1] and len(checks) < 4000  # stopped by the deadline, at a token
    # a batch row on the embedded model ends at EXECUTION_TIMEOUT, and the model is free right after
    checks.clear()
    monkeypatch.setenv("EXECUTION_TIMEOUT", "1")
    result = pn.batch([{"prompt": story, "model": "local", "max_tokens": 4000}], cache=False).frame
    assert list(result["status"]) == ["timeout"] and result.loc[0, "duration_sec"] >= 1.0
    # the row ended at its deadline; its generation, in a thread that may not hold the lock yet, stops too
    wait_until(lambda: bool(checks) and checks[-1] and not lock.locked(), what="the generation in the worker thread to stop")
    assert len(checks) < 4000
