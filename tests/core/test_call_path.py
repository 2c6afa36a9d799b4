"""One cached, retried call path for every provider and selector: OpenAIChat over http and over
the openai SDK, the remote (Imprompt) selector and LangChain's models each retry a scripted 429
by the engine's policy alone (the SDK's retries are off), then answer a second run from the cache
with no request at the server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import permutate_nb as pn

from ..helpers import klarna_request
from ..selector_service import SelectorService
from .test_remote_selector import detected, remote_request

GOOD = {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}}
BUSY = {"status": 429, "headers": {"Retry-After": "0"}}


@pytest.fixture
def service() -> Iterator[SelectorService]:
    s = SelectorService()
    yield s
    s.close()


def _one_case(request: dict[str, Any]) -> dict[str, Any]:
    request["test_cases"] = request["test_cases"][:1]
    return request


def _langchain(request: dict[str, Any]) -> dict[str, Any]:
    request["permutations"][0]["tool_selector"] = {"provider": "Langchain", "pipeline_name": "tool-calling",
                                                   "plugin_group_name": "klarna"}
    return request


@pytest.mark.parametrize("kind", ["http", "sdk", "langchain"])
def test_model_calls_retry_a_429_then_answer_from_the_cache(scripted: Any, kind: str) -> None:
    if kind == "langchain":
        pytest.importorskip("langchain_openai")
    scripted.set_script({"rules": [{"responses": [BUSY, GOOD]}]})
    request = _one_case(klarna_request(base_url=scripted.base_url, transport="sdk" if kind == "sdk" else "http",
                                       cache=True, max_retries=2))
    if kind == "langchain":
        request = _langchain(request)
    (row,) = pn.run(request).details
    assert row.passed and not row.cached and len(scripted.requests) == 2
    if kind != "langchain":  # LangChain counts model calls, not HTTP attempts
        assert row.attempts == 2
    scripted.reset()
    (again,) = pn.run(request).details
    assert again.passed and again.cached and scripted.requests == []


@pytest.mark.parametrize("kind", ["http", "sdk", "langchain"])
def test_only_the_engine_retries(scripted: Any, kind: str) -> None:
    if kind == "langchain":
        pytest.importorskip("langchain_openai")
    scripted.set_script({"rules": [{"responses": [BUSY]}]})
    request = _one_case(klarna_request(base_url=scripted.base_url, transport="sdk" if kind == "sdk" else "http",
                                       cache=True, max_retries=1))
    if kind == "langchain":
        request = _langchain(request)
    (row,) = pn.run(request).details
    assert not row.is_run_completed and "429" in (row.error or "")
    assert len(scripted.requests) == 2  # the first call and one retry: no retries of the SDK's own
    scripted.reset()
    scripted.set_script({"rules": [{"responses": [GOOD]}]})
    (again,) = pn.run(request).details
    assert again.passed and not again.cached and len(scripted.requests) == 1  # a failure is never cached


def test_remote_selector_retries_a_429_then_answers_from_the_cache(service: SelectorService) -> None:
    service.replies["/api/plugin-selector"] = [(429, {"message": "slow down"}), (200, detected())]
    request = _one_case(remote_request(service, cache=True, max_retries=2))
    (row,) = pn.run(request).details
    assert row.passed and row.attempts == 2 and not row.cached and len(service.requests) == 2
    service.requests.clear()
    (again,) = pn.run(request).details
    assert again.passed and again.cached and service.requests == []


def test_remote_selector_caches_no_failed_run(service: SelectorService) -> None:
    service.replies["/api/plugin-selector"] = [(200, {"run_completed": False, "message": "busy"}), (200, detected())]
    request = _one_case(remote_request(service, cache=True))
    (row,) = pn.run(request).details
    assert not row.is_run_completed and "run_completed: false" in (row.error or "")
    (again,) = pn.run(request).details
    assert again.passed and not again.cached and len(service.requests) == 2
