"""Safe by default: the API key, the bind refusal, the guard on files and private addresses, the body limit."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from permutate_nb.testing.plugin_api_server import PluginAPIServer
from tests.helpers import DEADLINE, KLARNA, PRODUCTS_URL, klarna_request

from .conftest import LiveServer
from .helpers import TOOL_CALL, assert_422

KEY = "s3cret-server-key"


@pytest.fixture
def keyed(start_server: Callable[..., LiveServer], scripted: Any) -> LiveServer:
    scripted.set_script(TOOL_CALL)
    return start_server(api_key=KEY, allow_dirs=(KLARNA.parent.resolve(),), allow_urls=(scripted.base_url,))


def test_with_a_key_every_endpoint_but_health_needs_it(keyed: LiveServer) -> None:
    with keyed.client() as anonymous:
        assert anonymous.get("/health").status_code == 200
        for path in ("/api/jobs", "/docs", "/openapi.json", "/api/jobs/x", "/public/batch_execution_results/x.xlsx"):
            denied = anonymous.get(path)
            assert denied.status_code == 401, path
            assert "API key" in denied.json()["detail"] and KEY not in denied.text
        assert anonymous.post("/api/start-job", json={}).status_code == 401
    for headers in ({"Integrations-API-Key": KEY}, {"x-api-key": KEY}, {"Authorization": f"Bearer {KEY}"}):
        with keyed.client(**headers) as client:
            assert client.get("/api/jobs").status_code == 200, headers
    for headers in ({"x-api-key": KEY + "x"}, {"Authorization": f"Basic {KEY}"}, {"x-api-key": ""}):
        with keyed.client(**headers) as client:
            assert client.get("/api/jobs").status_code == 401, headers


def test_without_a_key_everything_is_open(http: Any) -> None:
    assert http.get("/api/jobs").status_code == 200
    assert http.get("/docs").status_code == 200
    paths = http.get("/openapi.json").json()["paths"]
    assert {"/api/start-job", "/api/jobs", "/api/jobs/{job_id}", "/api/jobs/{job_id}/result",
            "/system/batch_execution/process_csv/invoke", "/experience/batch_execution/execute_batch/invoke",
            "/system/batch_execution/results", "/public/batch_execution_results/{file_name}",
            "/api/v1/pipelines/{pipeline_id}/eval-datasets",
            "/api/v1/pipelines/{pipeline_id}/eval-datasets/{eval_dataset_id}/execute", "/health"} <= set(paths)


def test_keys_never_appear_in_any_response(keyed: LiveServer, scripted: Any) -> None:
    secret = "sk-openplugin-do-not-leak"
    request = klarna_request(base_url=scripted.base_url, openplugin_api_key=secret)
    with keyed.client(**{"x-api-key": KEY}) as client:
        answers = [client.post("/api/start-job", json=request)]
        job_id = answers[0].json()["job_id"]
        answers += [client.get(f"/api/jobs/{job_id}"), client.get("/api/jobs"), client.get(f"/api/jobs/{job_id}/result"),
                    client.get(f"/api/jobs/{job_id}/result", params={"format": "csv"}),
                    client.post("/api/start-job", json={**request, "test_cases": "oops"})]
    for answer in answers:
        assert secret not in answer.text and KEY not in answer.text, answer.request.url


def test_a_public_address_without_a_key_is_refused_in_one_line() -> None:
    proc = subprocess.run([sys.executable, "-m", "permutate_nb.cli", "serve", "--host", "0.0.0.0", "--port", "1"],
                          capture_output=True, text=True, timeout=DEADLINE, env=_env_without_key())
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "permutate: error: refusing to listen on 0.0.0.0 without an API key: set PERMUTATE_API_KEY, or bind 127.0.0.1"]


def test_a_missing_extra_names_the_pip_command() -> None:
    code = "import sys; sys.modules['fastapi'] = None; from permutate_nb.cli import main; sys.exit(main(['serve']))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=DEADLINE, env=_env_without_key())
    assert proc.returncode == 2
    assert proc.stderr.strip() == 'permutate: error: fastapi is not installed: run  pip install "permutate-nb[api]"'


def _env_without_key() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "PERMUTATE_API_KEY"}


def _manifest_request(scripted: Any, manifest: str, **config: Any) -> dict[str, Any]:
    request = klarna_request(base_url=scripted.base_url, **config)
    request["plugin_groups"][0]["plugins"][0]["manifest_url"] = manifest
    return request


def test_local_files_only_under_allow_dir(start_server: Callable[..., LiveServer], scripted: Any, tmp_path: Path) -> None:
    scripted.set_script(TOOL_CALL)
    copy = tmp_path / "elsewhere" / "Klarna_Shopping.json"
    copy.parent.mkdir()
    copy.write_text(KLARNA.read_text())
    server = start_server(allow_dirs=(KLARNA.parent.resolve(),), allow_urls=(scripted.base_url,))
    loc = ["body", "plugin_groups", 0, "plugins", 0, "manifest_url"]
    with server.client() as client:
        for location in (str(copy), copy.as_uri(), "../../../../etc/passwd"):
            assert_422(client.post("/api/start-job", json=_manifest_request(scripted, location)), loc,
                       "cannot read the server's files")
        relative = client.post("/api/start-job", json=_manifest_request(scripted, "Klarna_Shopping.json"))
        assert relative.status_code == 200, relative.text  # relative paths resolve against the first --allow-dir
        mapped = _manifest_request(scripted, "https://plugins.example.com/k.json",
                                   url_map={"https://plugins.example.com/k.json": str(copy)})
        assert_422(client.post("/api/start-job", json=mapped),
                   ["body", "config", "url_map", "https://plugins.example.com/k.json"], "only to files under --allow-dir")
        env_key = _manifest_request(scripted, str(KLARNA))
        env_key["permutations"][0]["llm"]["api_key_env"] = "PERMUTATE_API_KEY"
        assert_422(client.post("/api/start-job", json=env_key), ["body", "permutations", 0, "llm", "api_key_env"],
                   "the server's own key")


def test_private_addresses_need_allow_private_urls(start_server: Callable[..., LiveServer], scripted: Any,
                                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scripted.set_script(TOOL_CALL)
    loc = ["body", "plugin_groups", 0, "plugins", 0, "manifest_url"]
    with PluginAPIServer() as plugin_api:
        request = _manifest_request(scripted, plugin_api.manifest_url)
        request["test_cases"] = [{**case, "expected_plugin_used": plugin_api.manifest_url,
                                  "expected_api_used": plugin_api.products_url} for case in request["test_cases"]]
        with start_server().client() as client:
            entry = assert_422(client.post("/api/start-job", json=request), loc, "resolves to a private address (127.0.0.1)")
            assert "--allow-private-urls" in entry["msg"]
            assert plugin_api.requests == []  # refused before anything was fetched
        with start_server(allow_private_urls=True, allow_urls=(scripted.base_url,)).client() as client:
            answer = client.post("/api/start-job", json=request)
            assert answer.status_code == 200, answer.text
            assert answer.json()["summary"]["overall_accuracy"] == 100.0

    # a manifest the operator mapped, whose OpenAPI document sits on a private address: the spec is refused
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(KLARNA.read_text()),
                                    "api": {"type": "openapi", "url": "http://10.1.2.3/openapi.yaml"}}))
    url_map = tmp_path / "url_map.yaml"
    url_map.write_text(f'"https://plugins.example.com/manifest.json": {manifest}\n')
    monkeypatch.setenv("PERMUTATE_URL_MAP", str(url_map))
    request = _manifest_request(scripted, "https://plugins.example.com/manifest.json")
    request["test_cases"] = [{**c, "expected_plugin_used": "https://plugins.example.com/manifest.json"}
                             for c in request["test_cases"]]
    with start_server(allow_urls=(scripted.base_url,)).client() as client:
        entry = assert_422(client.post("/api/start-job", json=request), ["body"],
                           "http://10.1.2.3/openapi.yaml resolves to a private address (10.1.2.3)")
        assert entry["type"] == "plugin_error"
    assert PRODUCTS_URL


def test_body_size_limit(start_server: Callable[..., LiveServer]) -> None:
    server = start_server(max_body_mb=0.01)  # 10,485 bytes
    big = b'{"name": "' + b"x" * 20_000 + b'"}'
    with server.client() as client:
        refused = client.post("/api/start-job", content=big, headers={"content-type": "application/json"})
        assert refused.status_code == 413 and "0.01 MB" in refused.json()["detail"]
        chunked = client.post("/api/start-job", content=iter([big[:8000], big[8000:]]),
                              headers={"content-type": "application/json"})
        assert chunked.status_code == 413
        small = client.post("/api/start-job", json={"name": "x"})
        assert small.status_code == 422


def test_an_unexpected_failure_answers_500_in_one_line_without_a_stack(
        start_server: Callable[..., LiveServer], permutate_home: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A broken store (its jobs table dropped behind the server's back) is no input error: the answer is a
    500 naming the kind of failure, with no stack, no path and no key in the body; the log has the details."""
    import sqlite3

    server = start_server(api_key=KEY)
    with sqlite3.connect(permutate_home / "jobs.sqlite") as db:
        db.execute("DROP TABLE jobs")
    with server.client(**{"x-api-key": KEY}) as client:
        answer = client.get("/api/jobs")
        assert client.get("/health").status_code == 200  # the server, and this connection, live on
    assert answer.status_code == 500
    assert answer.json() == {"detail": "internal error (OperationalError); the server log has the details"}
    for leak in ("Traceback", "File \"", str(permutate_home), KEY):
        assert leak not in answer.text
    assert "no such table: jobs" in caplog.text  # the details went to the log

