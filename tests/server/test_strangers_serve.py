"""``permutate serve`` with strangers, each item of issue 21 tried at its worst (loopback only).

No request stalls the server (a backtracking ``$regex``, ``/dev/zero``, 70 dripping manifests), none
reaches the server's network (model and selector endpoints, executed operations, redirect hops,
unresolvable hosts, environment variables), and odd bodies get a 422 naming the field, never a 500.
"""

from __future__ import annotations

import io
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest

from permutate_nb.testing.hostile_service import CANARY, HostileService
from permutate_nb.testing.plugin_api_server import PluginAPIServer
from tests.helpers import KLARNA, PRODUCTS_URL, klarna_request

from .conftest import LiveServer
from .helpers import assert_422, wait_for


@pytest.fixture
def secret() -> Iterator[HostileService]:
    service = HostileService()
    yield service
    service.close()


def _request(scripted: Any, manifest: str | Path = KLARNA, **config: Any) -> dict[str, Any]:
    request = klarna_request(base_url=scripted.base_url, **config)
    request["plugin_groups"][0]["plugins"][0]["manifest_url"] = str(manifest)
    return request


def _server(start_server: Callable[..., LiveServer], scripted: Any, *urls: str, **settings: Any) -> LiveServer:
    return start_server(allow_dirs=(KLARNA.parent.resolve(),), allow_urls=(scripted.base_url, *urls), **settings)


# --------------------------------------------------------------------------- 1. no request stalls the server

def test_a_backtracking_regex_fails_its_run_and_health_keeps_answering(http: httpx.Client, scripted: Any) -> None:
    scripted.set_script({"default": {"tool_call": {"name": "productsUsingGET",
                                                   "arguments": {"q": "a" * 40 + "!", "size": 5}}}})
    request = _request(scripted)
    request["test_cases"] = [{**request["test_cases"][1], "expected_parameters": {"q": {"$regex": "(a|aa)+$"}, "size": 5}}]
    started = http.post("/api/start-job", params={"wait": "false"}, json=request)
    assert started.status_code == 202, started.text
    assert http.get("/health").status_code == 200
    wait_for(http, started.json()["job_id"])
    row = http.get(f"/api/jobs/{started.json()['job_id']}/result").json()["details"][0]
    assert row["error"] == "regex timeout" and row["passed"] is False


def test_dev_zero_as_a_manifest_is_refused(start_server: Callable[..., LiveServer], scripted: Any) -> None:
    server = start_server(allow_dirs=(Path("/dev"),), allow_urls=(scripted.base_url,))
    with server.client() as client:
        answer = client.post("/api/start-job", json=_request(scripted, "/dev/zero"))
    assert answer.status_code == 422, answer.text
    assert "/dev/zero: not a regular file" in answer.text


def test_seventy_dripping_manifests_leave_an_ordinary_start_job_answered(
        start_server: Callable[..., LiveServer], scripted: Any) -> None:
    scripted.set_script({"default": {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}}})
    drip = HostileService(drip=True)
    server = _server(start_server, scripted, drip.url)
    answers: list[int] = []

    def slow(i: int) -> None:
        with server.client() as client:
            answers.append(client.post("/api/start-job", json=_request(scripted, f"{drip.url}/m{i}.json")).status_code)

    threads = [threading.Thread(target=slow, args=(i,), daemon=True) for i in range(70)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while drip.active < 70:
            assert time.monotonic() < deadline, f"only {drip.active} of 70 fetches started"
            time.sleep(0.05)
        with httpx.Client(base_url=server.url, timeout=25) as client:  # before: unanswered for 60 s
            ordinary = client.post("/api/start-job", json=_request(scripted))
            assert ordinary.status_code == 200, ordinary.text
            assert client.get("/health").status_code == 200
    finally:
        drip.close()
        for thread in threads:
            thread.join(60)
    assert len(answers) == 70 and set(answers) == {422}, answers  # each names its broken manifest; no 500


# --------------------------------------------------------------------------- 2. no request reaches the network

def test_a_body_names_only_endpoints_and_variables_the_operator_allows(
        start_server: Callable[..., LiveServer], scripted: Any, secret: HostileService) -> None:
    server = _server(start_server, scripted)
    with server.client() as client:
        llm = _request(scripted)
        llm["permutations"][0]["llm"]["base_url"] = secret.url + "/v1"
        entry = assert_422(client.post("/api/start-job", json=llm), ["body", "permutations", 0, "llm", "base_url"],
                           "--allow-url")
        assert CANARY not in entry["msg"]
        selector = _request(scripted, tool_selector_endpoint=secret.url)
        assert_422(client.post("/api/start-job", json=selector), ["body", "config", "tool_selector_endpoint"], "--allow-url")
        env = _request(scripted)
        env["permutations"][0]["llm"]["api_key_env"] = "HOME"
        assert_422(client.post("/api/start-job", json=env), ["body", "permutations", 0, "llm", "api_key_env"],
                   "--allow-key-env")
    assert secret.requests == []


def test_an_allowed_key_env_and_an_allowed_prefix_pass(start_server: Callable[..., LiveServer], scripted: Any,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    scripted.set_script({"default": {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}}})
    monkeypatch.setenv("MY_MODEL_KEY", "sk-test")
    server = _server(start_server, scripted, allow_key_envs=("MY_MODEL_KEY",))
    request = _request(scripted)
    request["permutations"][0]["llm"]["api_key_env"] = "MY_MODEL_KEY"
    with server.client() as client:
        answer = client.post("/api/start-job", json=request)
    assert answer.status_code == 200, answer.text
    assert answer.json()["summary"]["overall_accuracy"] == 100.0


def test_executed_operations_cannot_reach_a_loopback_api(start_server: Callable[..., LiveServer], scripted: Any) -> None:
    scripted.set_script({"default": {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}}})
    with PluginAPIServer() as plugin_api:  # the operator lets the manifest and spec be read, not the API itself
        server = _server(start_server, scripted, plugin_api.manifest_url, f"{plugin_api.base_url}/openapi.json")
        request = _request(scripted, plugin_api.manifest_url, execute_operations=True)
        request["test_cases"] = [{**c, "expected_plugin_used": plugin_api.manifest_url,
                                  "expected_api_used": plugin_api.products_url} for c in request["test_cases"]]
        with server.client() as client:
            answer = client.post("/api/start-job", json=request)
        assert answer.status_code == 200, answer.text
        rows = answer.json()["details"]
        assert all("refused by the server" in (row["error"] or "") for row in rows), [r["error"] for r in rows]
        assert [r["path"] for r in plugin_api.requests if r["path"].endswith("/products")] == []


def test_every_redirect_hop_meets_the_guard(start_server: Callable[..., LiveServer], scripted: Any,
                                            secret: HostileService) -> None:
    hop = HostileService(redirect=secret.url)  # an address the operator allowed answers 302 to one it did not
    try:
        server = _server(start_server, scripted, hop.url)
        with server.client() as client:
            answer = client.post("/api/start-job", json=_request(scripted, f"{hop.url}/manifest.json"))
        assert answer.status_code == 422, answer.text
        assert f"{secret.url}/manifest.json resolves to a private address" in answer.text
        assert hop.requests == ["/manifest.json"] and secret.requests == []
    finally:
        hop.close()


def test_a_host_that_does_not_resolve_is_refused(start_server: Callable[..., LiveServer], scripted: Any) -> None:
    server = _server(start_server, scripted)
    url = "http://permutate-no-such-host.invalid/manifest.json"
    with server.client() as client:
        assert_422(client.post("/api/start-job", json=_request(scripted, url)),
                   ["body", "plugin_groups", 0, "plugins", 0, "manifest_url"], "does not resolve")


# --------------------------------------------------------------------------- 4, 5. exports

def test_a_batch_header_formula_stays_text_and_the_xlsx_follows_the_job(
        http: httpx.Client, scripted: Any, permutate_home: Path) -> None:
    scripted.set_script({"default": {"text": "Paris"}})
    header = '=HYPERLINK("http://example.com","x")'
    checked = http.post("/system/batch_execution/process_csv/invoke",
                        json={"csv_content": f'prompt,model,"{header.replace(chr(34), chr(34) * 2)}"\nhi,m,1\n'})
    assert checked.status_code == 200, checked.text
    sheet = openpyxl.load_workbook(io.BytesIO(http.get(checked.json()["xlsx_url"]).content))["Results"]
    cell = next(c for c in sheet[1] if c.value == header)
    assert cell.data_type == "s"  # text, not a formula

    started = http.post("/experience/batch_execution/execute_batch/invoke",
                        json={"executions": [{"prompt": "capital of France?", "model": "m"}]})
    invocation = started.json()["invocationId"]
    deadline = time.monotonic() + 30
    while (result := http.post("/system/batch_execution/results", json={"invocation_id": invocation}).json())["status"] \
            in ("pending", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    first = openpyxl.load_workbook(io.BytesIO(http.get(result["xlsx_url"]).content))["Results"]
    assert [c.value for c in first[2]][3] == "Paris"
    with sqlite3.connect(permutate_home / "jobs.sqlite") as db:  # the job changes (as a resume would change it)
        (text,) = db.execute("SELECT result FROM runs WHERE job_id=?", (invocation,)).fetchone()
        db.execute("UPDATE runs SET result=? WHERE job_id=?", (text.replace('"Paris"', '"Lyon"'), invocation))
        db.execute("UPDATE jobs SET ended_at='2030-01-01T00:00:00.000Z' WHERE id=?", (invocation,))
    again = openpyxl.load_workbook(io.BytesIO(http.get(result["xlsx_url"]).content))["Results"]
    assert [c.value for c in again[2]][3] == "Lyon"


# --------------------------------------------------------------------------- 6, 7, 8. odd bodies: 422, never 500

def _post_raw(http: httpx.Client, path: str, text: str, content_type: str = "application/json") -> httpx.Response:
    return http.post(path, content=text.encode("utf-8", "surrogatepass"), headers={"content-type": content_type})


@pytest.mark.parametrize("csv_content, reason", [
    ("prompt,model\nab\rcd,m\n", "new-line character"),
    ("prompt,model\n" + "x" * 140_000 + ",m\n", "longer than 131,072 characters"),
    ("prompt,prompt\na,b\n", "appears more than once"),
])
def test_bad_csv_content_is_a_422(http: httpx.Client, csv_content: str, reason: str) -> None:
    answer = http.post("/system/batch_execution/process_csv/invoke", json={"csv_content": csv_content})
    assert_422(answer, ["body", "csv_content"], reason)


def test_bodies_json_cannot_mean_honestly_are_422(http: httpx.Client, scripted: Any) -> None:
    request = json.dumps(_request(scripted))
    start = "/api/start-job"
    cases = {
        "lone surrogate in a prompt": request.replace("Show me 5 T shirts", "Show me \\ud800"),
        "NaN": request.replace('"temperature": 0', '"temperature": NaN'),
        "Infinity": request.replace('"temperature": 0', '"temperature": Infinity'),
        "duplicate key": request.replace('"name": "klarna_test"', '"name": "a", "name": "b"'),
    }
    for what, text in cases.items():
        answer = _post_raw(http, start, text)
        assert answer.status_code == 422, (what, answer.text)
    surrogate = _post_raw(http, "/system/batch_execution/process_csv/invoke", '{"csv_content": "prompt\\n\\ud800"}')
    assert surrogate.status_code == 422 and "lone surrogate" in surrogate.text
    deep = '[{"input": "q", "metadata": ' + "[" * 3000 + "]" * 3000 + "}]"
    answer = _post_raw(http, "/api/v1/pipelines/p/eval-datasets", deep)
    assert answer.status_code == 422 and "nested deeper than 200 levels" in answer.text


@pytest.mark.parametrize("change, loc", [
    (lambda r: r.update(name=""), ["body", "name"]),
    (lambda r: r["permutations"][0].update(name="  "), ["body", "permutations", 0, "name"]),
    (lambda r: r["permutations"][0]["llm"].update(max_tokens=0), ["body", "permutations", 0, "llm", "max_tokens"]),
])
def test_empty_names_and_max_tokens_below_one_are_refused(http: httpx.Client, scripted: Any,
                                                          change: Callable[[dict[str, Any]], None], loc: list[Any]) -> None:
    request = _request(scripted)
    change(request)
    assert http.post("/api/start-job", json=request).status_code == 422


def test_a_batch_row_with_nan_or_max_tokens_zero_is_refused(http: httpx.Client) -> None:
    for execution in ({"prompt": "hi", "model": "m", "max_tokens": 0}, {"prompt": "hi", "model": "m", "temperature": "nan"}):
        answer = http.post("/experience/batch_execution/execute_batch/invoke", json={"executions": [execution]})
        assert answer.status_code == 422, answer.text


def test_a_404_names_no_server_path(http: httpx.Client, permutate_home: Path) -> None:
    answer = http.get("/api/jobs/no-such-job")
    assert answer.status_code == 404
    assert answer.json() == {"detail": "no job 'no-such-job'"}
    assert str(permutate_home) not in answer.text


def test_the_products_url_is_what_the_cases_expect() -> None:
    assert PRODUCTS_URL.endswith("/products")


# --------------------------------------------------------------------------- the operator's settings

def test_allow_url_flags_and_environment_add_up(monkeypatch: pytest.MonkeyPatch) -> None:
    from permutate_nb.errors import ConfigurationError
    from permutate_nb.server import ServerSettings

    monkeypatch.delenv("PERMUTATE_API_KEY", raising=False)
    monkeypatch.setenv("PERMUTATE_ALLOW_URLS", "http://10.0.0.5:8000/v1, https://models.internal/ ,")
    settings = ServerSettings.from_env(allow_urls=["http://127.0.0.1:9000/"], allow_key_envs=["MY_KEY"], host="[::1]")
    assert settings.allow_urls == ("http://127.0.0.1:9000/", "http://10.0.0.5:8000/v1", "https://models.internal/")
    assert settings.allow_key_envs == ("MY_KEY",) and settings.host == "::1"
    with pytest.raises(ConfigurationError, match="--allow-url ftp://x"):
        ServerSettings.from_env(allow_urls=["ftp://x"])
    with pytest.raises(ConfigurationError, match="the server's own key"):
        ServerSettings.from_env(allow_key_envs=["PERMUTATE_API_KEY"])


def test_serve_on_ipv6_loopback(tmp_path: Path) -> None:
    """``--host "[::1]"`` (the URL spelling) binds the IPv6 loopback instead of exiting 3."""
    import os
    import socket
    import subprocess
    import sys

    with socket.socket(socket.AF_INET6) as sock:
        sock.bind(("::1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "PERMUTATE_API_KEY"}
    env["PERMUTATE_HOME"] = str(tmp_path / "home")
    proc = subprocess.Popen([sys.executable, "-m", "permutate_nb.cli", "serve", "--host", "[::1]", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else proc.returncode
            try:
                answer = httpx.get(f"http://[::1]:{port}/health", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not answer on [::1]"
                time.sleep(0.1)
        assert answer.status_code == 200 and answer.json()["status"] == "ok"
    finally:
        proc.terminate()
        proc.wait(30)
