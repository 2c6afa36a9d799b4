"""Whole jobs against the scripted OpenAI-compatible server, over both transports.

The aiohttp transport and the openai SDK (``transport: sdk``) must give the same rows.
Every summary figure is recomputed from the detail rows.
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

import pytest

import permutate_nb as pn
from permutate_nb.core.jobs.events import Reporter
from permutate_nb.core.stats.exact import wilson

from ..helpers import DEADLINE, PRODUCTS_URL, klarna_request

TRANSPORTS = ["http", "sdk"]
GOOD = {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}}


def _run(server: Any, transport: str, rules: list[dict[str, Any]], **config: Any) -> pn.JobResult:
    server.set_script({"rules": rules})
    request = klarna_request(base_url=server.base_url, transport=transport, cache=False, **config)
    return pn.run(request)


def _repeat_figures(details: list[dict[str, Any]]) -> dict[str, Any]:
    """pass@k, pass^k (means over permutation x case x language cells) and flaky cells, from the rows."""
    cells: dict[tuple[str, str, str], list[bool]] = {}
    for d in details:
        cells.setdefault((d["permutation_name"], d["test_case_name"], d["language"]), []).append(d["passed"])
    top = min(len(p) for p in cells.values())
    at = lambda n, c, k: 1 - math.comb(n - c, k) / math.comb(n, k)  # noqa: E731
    hat = lambda n, c, k: math.comb(c, k) / math.comb(n, k)  # noqa: E731
    mean = lambda f, k: round(100 * sum(f(len(p), sum(p), k) for p in cells.values()) / len(cells), 2)  # noqa: E731
    return {
        "pass_at_k": {str(k): mean(at, k) for k in range(1, top + 1)},
        "pass_hat_k": {str(k): mean(hat, k) for k in range(1, top + 1)},
        "flaky_cases": [{"permutation_name": p, "test_case_name": c, "language": lang, "passes": sum(v), "repeats": len(v)}
                        for (p, c, lang), v in cells.items() if 0 < sum(v) < len(v)],
    }


def recompute(details: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(details)
    c_rows = [d for d in details if d["test_type"] == "api_signature_selector"]
    pct = lambda k, rows: round(100 * sum(bool(d[k]) for d in rows) / len(rows), 2) if rows else None  # noqa: E731
    ci = lambda k, rows: wilson(sum(bool(d[k]) for d in rows), len(rows))  # noqa: E731  (wilson: test_stats)
    tokens = sum(d["total_llm_tokens_used"] for d in details)
    costs = [d["llm_api_cost"] for d in details]
    return {
        "overall_accuracy_ci": ci("passed", details),
        "accuracy_step_a_ci": ci("is_plugin_detected", details),
        "accuracy_step_b_ci": ci("is_plugin_operation_found", details),
        "accuracy_step_c_ci": ci("is_plugin_parameter_mapped", c_rows),
        **_repeat_figures(details),
        "total_test_cases": n,
        "failed_cases": sum(not d["is_run_completed"] for d in details),
        "overall_accuracy": pct("passed", details),
        "accuracy_step_a": pct("is_plugin_detected", details),
        "accuracy_step_b": pct("is_plugin_operation_found", details),
        "accuracy_step_c": pct("is_plugin_parameter_mapped", c_rows),
        "total_llm_tokens_used": tokens,
        "average_llm_tokens_used": tokens // n,
        "average_response_time_sec": round(sum(d["response_time_sec"] for d in details) / n, 3),
        "total_llm_api_cost": None if None in costs else round(sum(costs), 6),
    }


def assert_summary_honest(result: pn.JobResult) -> None:
    data = result.to_dict()
    for key, value in recompute(data["details"]).items():
        assert data["summary"][key] == value, key
    for group, field in (("summary_by_permutation", "permutation_name"), ("summary_by_language", "language"),
                         ("summary_by_test_case", "test_case_name")):
        for name, summary in data[group].items():
            rows = [d for d in data["details"] if d[field] == name]
            for key, value in recompute(rows).items():
                assert summary[key] == value, (group, name, key)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_correct_calls_pass_every_step(scripted: Any, transport: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", scripted.base_url)  # the environment's key goes to its own endpoint
    result = _run(scripted, transport, [{"responses": [GOOD]}])
    rows = result.to_dict()["details"]
    assert [r["test_case_name"] for r in rows] == ["shirts", "shirts_params"]
    for row in rows:
        assert row["is_run_completed"] and row["is_plugin_detected"] and row["is_plugin_operation_found"]
        assert row["plugin_operation"] == PRODUCTS_URL and row["plugin_method"] == "GET"
        assert row["plugin_name"] == "Klarna Shopping"
        assert row["plugin_parameters_mapped"] == {"q": "T shirt", "size": 5}
        assert row["total_llm_tokens_used"] > 0 and row["llm_api_cost"] > 0  # gpt-4o-mini is priced
    assert rows[1]["is_plugin_parameter_mapped"] and rows[1]["parameter_mapped_percentage"] == 100.0
    assert rows[0]["parameter_mapped_percentage"] is None
    s = result.summary
    assert (s["overall_accuracy"], s["accuracy_step_a"], s["accuracy_step_b"], s["accuracy_step_c"]) == (100.0, 100.0, 100.0, 100.0)
    assert_summary_honest(result)
    body = next(r["json"] for r in scripted.requests if "Show me" in r["json"]["messages"][0]["content"])
    assert body["model"] == "gpt-4o-mini" and body["temperature"] == 0 and body["tool_choice"] == "auto"
    assert body["messages"] == [{"role": "user", "content": "Show me 5 T shirts from Klarna"}]
    assert body["tools"][0]["function"]["name"] == "productsUsingGET"
    assert scripted.requests[0]["headers"]["authorization"] == "Bearer test-key"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_wrong_parameters_and_wrong_operation(scripted: Any, transport: str) -> None:
    rules = [
        {"match": "Show me", "responses": [{"tool_call": {"name": "nonexistent_tool", "arguments": {}}}]},
        {"match": "Find", "responses": [{"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 3}}}]},
    ]
    rows = _run(scripted, transport, rules).details
    assert rows[0].is_run_completed and not rows[0].is_plugin_detected and not rows[0].is_plugin_operation_found
    assert "unknown tool 'nonexistent_tool'" in (rows[0].error or "")
    assert rows[1].is_plugin_operation_found and not rows[1].is_plugin_parameter_mapped
    assert rows[1].parameter_mapped_percentage == 50.0 and not rows[1].passed


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_text_only_and_malformed_arguments(scripted: Any, transport: str) -> None:
    rules = [
        {"match": "Show me", "responses": [{"text": "Sorry, I can't browse shops."}]},
        {"match": "Find", "responses": [{"tool_call": {"name": "productsUsingGET", "arguments": '{"q": "T shirt", size: }'}}]},
    ]
    result = _run(scripted, transport, rules)
    text_row, bad_row = result.details
    assert text_row.is_run_completed and not text_row.is_plugin_detected
    assert text_row.final_output == text_row.raw_response == "Sorry, I can't browse shops."
    assert bad_row.is_run_completed and bad_row.is_plugin_operation_found and not bad_row.is_plugin_parameter_mapped
    assert bad_row.raw_response == '{"q": "T shirt", size: }' and bad_row.plugin_parameters_mapped is None
    assert result.summary["failed_cases"] == 0 and result.summary["overall_accuracy"] == 0.0
    assert_summary_honest(result)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_429_is_retried_then_succeeds(scripted: Any, transport: str) -> None:
    rules = [{"responses": [{"status": 429, "headers": {"Retry-After": "0"}}, GOOD]}]
    result = _run(scripted, transport, rules, concurrency=1)
    first, second = result.details
    assert first.is_run_completed and first.attempts == 2 and first.passed
    assert second.attempts == 1 and second.passed
    assert len(scripted.requests) == 3


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_500_forever_fails_the_run_but_not_the_job(scripted: Any, transport: str) -> None:
    rules = [
        {"match": "Show me", "responses": [{"status": 500, "headers": {"Retry-After": "0"}}]},
        {"responses": [GOOD]},
    ]
    result = _run(scripted, transport, rules, max_retries=2)
    failed, ok = result.details
    assert not failed.is_run_completed and failed.attempts == 3 and "HTTP 500" in (failed.error or "")
    assert not failed.passed and not failed.is_plugin_detected
    assert ok.passed
    s = result.summary
    assert s["failed_cases"] == 1 and s["overall_accuracy"] == 50.0 and s["total_test_cases"] == 2
    assert_summary_honest(result)


def test_401_is_not_retried(scripted: Any) -> None:
    result = _run(scripted, "http", [{"responses": [{"status": 401}]}], max_retries=3)
    assert all(not d.is_run_completed and d.attempts == 1 for d in result.details)
    # the request's own base_url was sent no key (the environment's goes only to its endpoint): say how to give one
    assert all("no key was sent" in d.error and "llm.api_key_env" in d.error for d in result.details)


def test_cache_serves_a_rerun(scripted: Any) -> None:
    scripted.set_script({"rules": [{"responses": [GOOD]}]})
    request = klarna_request(base_url=scripted.base_url, repeats=2)
    first = pn.run(request)
    assert [d.cached for d in first.details] == [False] * 4
    assert len(scripted.requests) == 4  # each repeat is its own call
    second = pn.run(request)
    assert [d.cached for d in second.details] == [True] * 4
    assert len(scripted.requests) == 4
    assert [d.plugin_parameters_mapped for d in second.details] == [d.plugin_parameters_mapped for d in first.details]
    assert second.summary["cached_runs"] == 4
    third = pn.run(request, cache=False)
    assert not any(d.cached for d in third.details) and len(scripted.requests) == 8


def test_matrix_order_whatever_the_finish_order(scripted: Any) -> None:
    scripted.set_script({"rules": [
        {"match": "Show me", "responses": [{**GOOD, "delay": 0.3}]},
        {"responses": [GOOD]},
    ]})
    request = klarna_request(base_url=scripted.base_url, repeats=2, cache=False)
    request["permutations"].append({**request["permutations"][0], "name": "p2"})
    request["config"]["auto_translate_to_languages"] = ["English"]
    result = pn.run(request, concurrency=8)
    keys = [(d.permutation_name, d.test_case_name, d.repeat) for d in result.details]
    assert keys == [(p, c, r) for p in ("p1", "p2") for c in ("shirts", "shirts_params") for r in (0, 1)]


def test_pinned_and_model_translations(scripted: Any) -> None:
    scripted.set_script({"rules": [
        {"match": "Translate", "responses": [{"text": "Busca 5 camisetas por favor"}]},
        {"responses": [GOOD]},
    ]})
    request = klarna_request(base_url=scripted.base_url, cache=False)
    request["config"]["auto_translate_to_languages"] = ["English", "Spanish"]
    request["test_cases"][0]["translations"] = {"Spanish": "Muéstrame 5 camisetas de Klarna"}
    result = pn.run(request)
    by_key = {(d.test_case_name, d.language): d.prompt for d in result.details}
    assert by_key[("shirts", "Spanish")] == "Muéstrame 5 camisetas de Klarna"
    assert by_key[("shirts_params", "Spanish")] == "Busca 5 camisetas por favor"
    assert by_key[("shirts", "English")] == "Show me 5 T shirts from Klarna"
    assert set(result.summary_by("language")) == {"English", "Spanish"}


def test_unknown_model_cost_is_null(scripted: Any) -> None:
    scripted.set_script({"rules": [{"responses": [GOOD]}]})
    result = pn.run(klarna_request(base_url=scripted.base_url, model="my-finetune", cache=False))
    assert all(d.llm_api_cost is None for d in result.details)
    assert result.summary["total_llm_api_cost"] is None


def test_reporter_sees_every_run(scripted: Any) -> None:
    scripted.set_script({"rules": [{"responses": [GOOD]}]})
    seen: list[Any] = []

    class Recorder(Reporter):
        def job_started(self, event: Any) -> None:
            seen.append(("start", event.total_runs))

        def run_finished(self, index: int, detail: Any) -> None:
            seen.append(("run", index))

        def job_finished(self, result: Any) -> None:
            seen.append(("end", len(result.details)))

    pn.run(klarna_request(base_url=scripted.base_url, cache=False), reporter=Recorder())
    assert seen[0] == ("start", 2) and seen[-1] == ("end", 2)
    assert sorted(i for kind, i in seen if kind == "run") == [0, 1]


def test_cancel_returns_partial_result(scripted: Any) -> None:
    scripted.set_script({"rules": [
        {"match": "Show me", "responses": [GOOD]},
        {"responses": [{**GOOD, "hold": True}]},  # answered only after the test ends
    ]})
    request = klarna_request(base_url=scripted.base_url, cache=False)

    async def main() -> pn.JobResult:
        finished = asyncio.Event()

        class OneDone(pn.Reporter):
            def run_finished(self, index: int, detail: Any) -> None:  # called on the job's event loop
                finished.set()

        task = asyncio.create_task(pn.run_async(request, concurrency=2, reporter=OneDone()))
        await asyncio.wait_for(finished.wait(), DEADLINE)  # the fast run is done; the other waits for its reply
        deadline = asyncio.get_running_loop().time() + DEADLINE
        while len(scripted.requests) < 2:
            assert asyncio.get_running_loop().time() < deadline, "the second run sent nothing"
            await asyncio.sleep(0.01)
        task.cancel()
        return await task

    result = asyncio.run(main())
    assert result.status == "CANCELLED" and result.planned_runs == 2
    assert [d.test_case_name for d in result.details] == ["shirts"]


def test_start_job_response_shape(scripted: Any) -> None:
    scripted.set_script({"rules": [{"responses": [GOOD]}]})
    data = pn.run(klarna_request(base_url=scripted.base_url, cache=False)).to_dict()
    assert list(data)[:8] == ["job_name", "started_on", "completed_on", "test_plugin", "permutations", "summary",
                              "details", "output_directory"]
    assert data["job_name"].startswith("klarna_test-1.0.0-20")
    assert list(data["summary"])[:12] == [
        "total_test_cases", "failed_cases", "language", "overall_accuracy", "accuracy_step_a", "accuracy_step_b",
        "accuracy_step_c", "total_run_time", "average_response_time_sec", "total_llm_tokens_used",
        "average_llm_tokens_used", "total_llm_api_cost"]
    assert list(data["details"][0])[:19] == [
        "permutation_name", "permutation_summary", "test_type", "test_case_name", "is_run_completed", "language",
        "prompt", "final_output", "match_score", "is_plugin_detected", "is_plugin_operation_found",
        "is_plugin_parameter_mapped", "plugin_name", "plugin_operation", "plugin_parameters_mapped",
        "parameter_mapped_percentage", "response_time_sec", "total_llm_tokens_used", "llm_api_cost"]
    assert data["details"][0]["permutation_summary"] == "OpenAIChat[gpt-4o-mini] - OpenAI[default]"
    json.dumps(data)
    assert "test-key" not in json.dumps(data)
