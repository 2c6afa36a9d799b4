"""Selector ``Imprompt``: a remote OpenPlugin-style selector service on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import permutate_nb as pn

from ..helpers import DEADLINE, KLARNA, PRODUCTS_URL, klarna_request
from ..selector_service import SelectorService


@pytest.fixture
def service() -> Iterator[SelectorService]:
    s = SelectorService()
    yield s
    s.close()


def remote_request(service: SelectorService, **config: Any) -> dict[str, Any]:
    config = {"cache": False, "max_retries": 0, "openplugin_api_key": "op-key", **config}
    request = klarna_request(tool_selector_endpoint=service.base_url, **config)
    request["permutations"][0]["tool_selector"] = {"provider": "Imprompt", "pipeline_name": "default",
                                                   "plugin_group_name": "klarna"}
    request["permutations"][0]["llm"].update(max_tokens=256, api_key_env=None)
    return request


def detected(params: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    operation = {"plugin": {"manifest_url": str(KLARNA), "name": "Klarna Shopping"}, "api_called": PRODUCTS_URL,
                 "method": "get"}
    if params is not None:
        operation["mapped_operation_parameters"] = params
    return {"run_completed": True, "final_text_response": "Here are 5 T shirts", "detected_plugin_operations": [operation],
            "response_time": 0.75, "tokens_used": 120, "llm_api_cost": 0.0002, **extra}


def test_wire_format_and_scores(service: SelectorService) -> None:
    service.replies["/api/plugin-selector"] = [(200, detected())]
    service.replies["/api/api-signature-selector"] = [(200, detected({"q": "T shirt", "size": "5"}))]
    request = remote_request(service)
    request["test_cases"][0]["expected_response"] = "Here are 5 T shirts"
    result = pn.run(request)
    first, second = result.details
    assert first.passed and second.passed and second.parameter_mapped_percentage == 100.0
    assert (first.total_llm_tokens_used, first.llm_api_cost, first.response_time_sec) == (120, 0.0002, 0.75)
    assert first.final_output == "Here are 5 T shirts" and first.match_score == 1.0 and second.match_score is None
    assert first.plugin_name == "Klarna Shopping" and first.plugin_method == "GET"
    assert first.permutation_summary == "OpenAIChat[gpt-4o-mini] - Imprompt[default]"
    assert sorted(r["path"] for r in service.requests) == ["/api/api-signature-selector", "/api/plugin-selector"]
    sent = next(r for r in service.requests if r["path"] == "/api/plugin-selector")
    assert sent["headers"]["x-api-key"] == "op-key"
    assert sent["json"] == {
        "messages": [{"content": "Show me 5 T shirts from Klarna", "message_type": "HumanMessage"}],
        "plugins": [{"manifest_url": str(KLARNA)}],
        "config": {"provider": "OpenAIChat"},
        "tool_selector_config": {"provider": "Imprompt", "pipeline_name": "default"},
        "llm": {"provider": "OpenAIChat", "model_name": "gpt-4o-mini", "temperature": 0.0, "max_tokens": 256},
    }


def test_the_named_key_is_sent_only_when_asked(service: SelectorService, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_OPENAI_KEY", "sk-remote")
    service.replies["/api/plugin-selector"] = service.replies["/api/api-signature-selector"] = [(200, detected())]
    request = remote_request(service)
    request["permutations"][0]["llm"]["api_key_env"] = "MY_OPENAI_KEY"
    pn.run(request)
    assert service.requests[0]["json"]["config"] == {"provider": "OpenAIChat", "openai_api_key": "sk-remote"}


@pytest.mark.parametrize(("reply", "error"), [
    ((500, {"message": "Failed to run plugin"}), "answered HTTP 500"),
    ((401, {"detail": "bad key"}), "HTTP 401: {\"detail\": \"bad key\"} (check config.openplugin_api_key)"),
    ((200, b"<html>oops</html>"), "not JSON"),
    ((200, {"run_completed": False, "final_text_response": "LLM failed"}), "run_completed: false (LLM failed)"),
])
def test_bad_replies_fail_the_run_with_the_reason(service: SelectorService, reply: tuple, error: str) -> None:
    service.replies["/api/plugin-selector"] = service.replies["/api/api-signature-selector"] = [reply]
    result = pn.run(remote_request(service))
    for row in result.details:
        assert not row.is_run_completed and not row.passed and error in (row.error or "")
    assert result.summary["failed_cases"] == 2


def test_5xx_is_retried(service: SelectorService) -> None:
    service.replies["/api/plugin-selector"] = [(503, {"message": "busy"}), (200, detected())]
    service.replies["/api/api-signature-selector"] = [(200, detected({"q": "T shirt", "size": 5}))]
    result = pn.run(remote_request(service, max_retries=1))
    assert [d.attempts for d in result.details] == [2, 1] and all(d.passed for d in result.details)


def test_cached_replies(service: SelectorService) -> None:
    service.replies["/api/plugin-selector"] = service.replies["/api/api-signature-selector"] = [(200, detected())]
    request = remote_request(service)
    request["config"]["cache"] = True
    first, second = pn.run(request), pn.run(request)
    assert len(service.requests) == 2 and all(d.cached and d.response_time_sec == 0.0 for d in second.details)
    assert [d.plugin_operation for d in second.details] == [d.plugin_operation for d in first.details]


def test_an_empty_openplugin_api_key_is_none(service: SelectorService) -> None:
    """The documents send ``openplugin_api_key: ""``: no x-api-key header, and the remote form still runs."""
    service.replies["/api/plugin-selector"] = service.replies["/api/api-signature-selector"] = [(200, detected())]
    request = remote_request(service)
    request["config"]["openplugin_api_key"] = ""
    request["permutations"][0]["llm"]["provider"] = "Cohere"  # the service runs the model: any provider
    result = pn.run(request)
    assert all(d.is_run_completed and d.is_plugin_detected for d in result.details)
    assert len(service.requests) == 2 and all("x-api-key" not in r["headers"] for r in service.requests)


def test_a_resumed_job_reads_its_key_again_and_never_stores_it(service: SelectorService, tmp_path: Any) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    import yaml

    from permutate_nb.core.store.job_store import JobStore

    secret = "op-secret-5f1c2e9d"
    service.replies["/api/plugin-selector"] = [(200, detected())]
    service.replies["/api/api-signature-selector"] = [(200, detected({"q": "T shirt", "size": "5"}))]
    request = remote_request(service, openplugin_api_key=secret)
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(request))
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k != "OPENPLUGIN_API_KEY"}
    env["PERMUTATE_HOME"] = str(home)

    def cli(*args: str, **extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "permutate_nb.cli", *args, "--quiet"], env={**env, **extra},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    service.release.clear()  # the service holds its replies: the runs stay in flight
    proc = cli("run", str(tmp_path / "job.yaml"))
    deadline = time.monotonic() + DEADLINE
    while not service.requests:
        assert time.monotonic() < deadline and proc.poll() is None, "the job sent nothing"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(DEADLINE)
    service.release.set()
    assert service.requests[0]["headers"]["x-api-key"] == secret
    job_id = JobStore(home / "jobs.sqlite").jobs()[0]["id"]

    refused = cli("run", "--resume", job_id)
    _, err = refused.communicate(timeout=DEADLINE)
    assert refused.returncode == 2 and err.strip() == (
        "permutate: error: config.openplugin_api_key_env names OPENPLUGIN_API_KEY, but that environment variable is "
        "not set (keys are not stored: a resumed job reads its key from the environment)")

    before = len(service.requests)
    resumed = cli("run", "--resume", job_id, OPENPLUGIN_API_KEY=secret)
    _, err = resumed.communicate(timeout=DEADLINE)
    assert resumed.returncode == 0, err
    keys = {r["headers"]["x-api-key"] for r in service.requests[before:]}
    assert keys == {secret} and len(service.requests) - before == 2
    stored = [path for path in home.rglob("*") if path.is_file()]
    assert any(p.name == "jobs.sqlite" for p in stored)
    assert not [p for p in stored if secret.encode() in p.read_bytes()]
