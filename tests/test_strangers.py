"""Requests and plugin documents written by someone else: what they cannot make permutate do.

Real processes (``python -m permutate_nb.cli``), a real HTTP server on 127.0.0.1 for the
documents and the scripted OpenAI-compatible server for the model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from permutate_nb.core.request.models import load_request
from permutate_nb.errors import RequestError

from .helpers import DEADLINE, KLARNA, klarna_request, peak_mib, serve_folder

CANARY = "CANARY-7f3a9c-local-secret"


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "permutate_nb.cli", *args], capture_output=True, text=True,
                          timeout=DEADLINE, env={**os.environ, **(env or {})})


def _one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("permutate: error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def _request_for(tmp_path: Path, manifest_url: str, base_url: str, **llm: Any) -> Path:
    data = klarna_request(manifest=manifest_url, base_url=base_url)
    data["permutations"][0]["llm"].update(llm)
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


# --------------------------------------------------------------------------- local files


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    folder = tmp_path / "private"
    folder.mkdir()
    secret = folder / "secret.json"
    secret.write_text(json.dumps({"openapi": "3.0.0", "info": {"title": CANARY, "version": "1"},
                                  "paths": {"/x": {"get": {"summary": CANARY}}}, "components": {"schemas": {"S": {"description": CANARY}}}}))
    return secret


@pytest.mark.parametrize("field", ["api.url", "openapi_doc_url", "$ref"])
def test_a_network_document_cannot_reach_local_files(field: str, canary: Path, tmp_path: Path, scripted: Any) -> None:
    site = tmp_path / "site"
    site.mkdir()
    target = canary.as_uri()
    if field == "api.url":
        manifest = {"schema_version": "v1", "name_for_human": "Shop", "api": {"type": "openapi", "url": target}}
    elif field == "openapi_doc_url":
        manifest = {"name": "Shop", "openapi_doc_url": target}
    else:
        manifest = {"openapi": "3.0.0", "info": {"title": "Shop", "version": "1"}, "paths": {"/p": {"get": {
            "parameters": [{"name": "q", "in": "query", "schema": {"$ref": f"{target}#/components/schemas/S"}}]}}}}
    (site / "manifest.json").write_text(json.dumps(manifest))
    with serve_folder(site) as base:
        url = f"{base}/manifest.json"
        proc = _cli("run", str(_request_for(tmp_path, url, scripted.base_url)), "--quiet")
    line = _one_line_error(proc)
    assert url in line and target in line and field in line and "network" in line
    assert CANARY not in proc.stderr + proc.stdout
    assert not any(CANARY in json.dumps(r["json"]) for r in scripted.requests)


def test_a_local_manifest_may_still_name_local_files(canary: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"name": "Mine", "openapi_doc_url": canary.as_uri()}))
    data = klarna_request(manifest=manifest)
    data["test_cases"] = [dict(data["test_cases"][0], expected_plugin_used=str(manifest))]
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(data))
    proc = _cli("validate", str(path))
    assert proc.returncode == 0, proc.stderr
    assert "1 operations" in proc.stdout


# --------------------------------------------------------------------------- API keys


def _authorizations(scripted: Any) -> set[str | None]:
    return {r["headers"].get("authorization") for r in scripted.requests}


@pytest.mark.parametrize("transport", ["http", "sdk"])
def test_the_environment_key_never_goes_to_a_request_s_base_url(scripted: Any, tmp_path: Path, transport: str) -> None:
    scripted.set_script({"rules": [{"responses": [{"text": "no tool"}]}]})
    env = {"OPENAI_API_KEY": "sk-env-must-not-leak", "OPENAI_BASE_URL": ""}
    proc = _cli("run", str(_request_for(tmp_path, str(KLARNA), scripted.base_url, transport=transport)), "--quiet",
                env=env)
    assert proc.returncode == 0, proc.stderr
    assert scripted.requests and not any("sk-env-must-not-leak" in str(a) for a in _authorizations(scripted))


@pytest.mark.parametrize("transport", ["http", "sdk"])
def test_a_request_s_base_url_gets_its_own_api_key_env(scripted: Any, tmp_path: Path, transport: str) -> None:
    scripted.set_script({"rules": [{"responses": [{"text": "no tool"}]}]})
    env = {"OPENAI_API_KEY": "sk-env-must-not-leak", "MY_KEY": "sk-mine"}
    path = _request_for(tmp_path, str(KLARNA), scripted.base_url, transport=transport, api_key_env="MY_KEY")
    proc = _cli("run", str(path), "--quiet", env=env)
    assert proc.returncode == 0, proc.stderr
    assert _authorizations(scripted) == {"Bearer sk-mine"}


def test_the_environment_key_goes_to_openai_base_url(scripted: Any, tmp_path: Path) -> None:
    scripted.set_script({"rules": [{"responses": [{"text": "no tool"}]}]})
    data = klarna_request()  # no llm.base_url: the environment's endpoint
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(data))
    proc = _cli("run", str(path), "--quiet", env={"OPENAI_API_KEY": "sk-env", "OPENAI_BASE_URL": scripted.base_url})
    assert proc.returncode == 0, proc.stderr
    assert _authorizations(scripted) == {"Bearer sk-env"}


def test_a_server_that_wants_a_key_says_how_to_give_one(scripted: Any, tmp_path: Path) -> None:
    scripted.set_script({"rules": [{"responses": [{"status": 401}]}]})
    proc = _cli("run", str(_request_for(tmp_path, str(KLARNA), scripted.base_url)), "--quiet", "--output",
                str(tmp_path / "out.json"), env={"OPENAI_API_KEY": "sk-env-must-not-leak"})
    rows = json.loads((tmp_path / "out.json").read_text())["details"]
    assert all("no key was sent" in r["error"] and "llm.api_key_env" in r["error"] for r in rows), rows[0]["error"]
    assert proc.returncode in (0, 3)


# --------------------------------------------------------------------------- expansion bounds

BILLION_LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))


def test_an_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    data = klarna_request()
    text = yaml.safe_dump(data).replace("expected_parameters:", "expected_parameters: *i\n    old_parameters:")
    bomb = BILLION_LAUGHS + text
    assert len(BILLION_LAUGHS) < 1024
    path = tmp_path / "bomb.yaml"
    path.write_text(bomb)
    def load() -> None:
        with pytest.raises(RequestError, match=r"bomb\.yaml, line \d+: expands to more than"):
            load_request(path)

    assert peak_mib(load) < 10  # refused before expanding: 9^9 elements would be gigabytes
    line = _one_line_error(_cli("validate", str(path)))
    assert "expands to more than" in line


def test_a_deeply_nested_json_request_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"name": ' + "[" * 100_000 + "]" * 100_000 + "}")
    def load() -> None:
        with pytest.raises(RequestError, match="nested deeper than"):
            load_request(path)

    assert peak_mib(load) < 10  # refused at the depth limit, without parsing 100,000 levels
    assert "deep.json: nested deeper than" in _one_line_error(_cli("run", str(path)))


def test_duplicate_keys_name_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("version: 1.0.0\nname: a\nconfig:\n  concurrency: 2\nname: b\n")
    line = _one_line_error(_cli("validate", str(path)))
    assert "dup.yaml, line 5: duplicate key 'name' (first at line 2)" in line


# --------------------------------------------------------------------------- reply size


def test_a_huge_reply_fails_its_run_and_raw_responses_are_capped(scripted: Any, tmp_path: Path) -> None:
    big, medium = "x" * (10 * 1024 * 1024), "y" * 200_000
    scripted.set_script({"rules": [{"match": "Show me", "responses": [{"text": big}]},
                                   {"responses": [{"text": medium}]}]})
    out = tmp_path / "out.json"
    proc = _cli("run", str(_request_for(tmp_path, str(KLARNA), scripted.base_url)), "--quiet", "--output", str(out))
    assert "Traceback" not in proc.stderr
    rows = {r["test_case_name"]: r for r in json.loads(out.read_text())["details"]}
    huge = rows["shirts"]
    assert not huge["is_run_completed"]
    assert "more than 4,194,304 bytes (config.max_response_bytes)" in huge["error"]
    for field in ("raw_response", "final_output"):
        kept = rows["shirts_params"][field]
        assert kept.startswith("yyy") and len(kept) < 70_000 and "truncated: 200,000 characters" in kept


def test_batches_and_evals_are_bounded_by_the_environment(scripted: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import permutate_nb as pn

    scripted.set_script({"rules": [{"match": "long", "responses": [{"text": "z" * 5000}]}, {"responses": [{"text": "ok"}]}]})
    monkeypatch.setenv("PERMUTATE_MAX_RESPONSE_BYTES", "2048")
    models = {"m": {"provider": "OpenAIChat", "model_name": "m", "base_url": scripted.base_url}}
    frame = pn.batch("prompt,model\nsay something long,m\nsay hi,m\n", models=models, cache=False).frame
    assert list(frame["status"]) == ["failed", "completed"]
    assert "more than 2,048 bytes" in frame["error"][0]
    ev = pn.evaluate([{"input": "say something long"}, {"input": "say hi"}], models=["m"], model_settings=models,
                     metrics=["token-f1"], cache=False)
    outputs = {o["test_case_id"]: o for o in ev.to_dict()["outputs"]}
    assert ev.status == "PARTIAL_SUCCESS" and len(outputs) == 2
