"""Malformed input, as a stranger would write it: every case is one line on stderr and exit 2.

Each case writes its files into a fresh folder and runs ``python -m permutate_nb.cli`` in a
real process (several at once: each pays the interpreter's start-up). No case reaches a model:
the endpoint is a closed port, so a case that wrongly started its job would fail differently.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from .helpers import DEADLINE, KLARNA, SNAPSHOTS, klarna_request

pytestmark = pytest.mark.slow  # a minute or more on 2 cores: -m 'not slow' leaves it out

CLOSED = "http://127.0.0.1:9/v1"
BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))


def _request(**changes: Any) -> str:
    data = klarna_request(base_url=CLOSED)
    for path, value in changes.items():
        node: Any = data
        keys = [int(k) if k.isdigit() else k for k in path.split("__")]
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return yaml.safe_dump(data, sort_keys=False)


def _manifest_request(name: str = "manifest.json") -> str:
    data = klarna_request(manifest=name, base_url=CLOSED)
    return yaml.safe_dump(data, sort_keys=False)


def _spec(**top: Any) -> str:
    doc = {"openapi": "3.0.0", "info": {"title": "T", "version": "1"}, "paths": {"/p": {"get": {"summary": "s"}}}}
    doc.update(top)
    return json.dumps(doc)


GOOD_CSV = "prompt,model\nhello,gpt-x\n"
OK_MODELS = "gpt-x: {provider: OpenAIChat, base_url: " + CLOSED + "}\n"

#: (id, files, argv, message fragment); {d} in argv is the case's folder.
CASES: list[tuple[str, dict[str, str | bytes], list[str], str]] = [
    # requests
    ("request-latin1", {"job.yaml": "name: caf\xe9\n".encode("latin-1")}, ["run", "{d}/job.yaml"], "job.yaml: not UTF-8 text (byte 9"),
    ("request-utf16", {"job.yaml": "name: x\n".encode("utf-16")}, ["validate", "{d}/job.yaml"], "not UTF-8 text (byte 0: 0xff)"),
    ("request-binary", {"job.yaml": bytes(range(256))}, ["validate", "{d}/job.yaml"], "not UTF-8 text"),
    ("request-deep-json", {"job.json": '{"name": ' + "[" * 100_000 + "]" * 100_000 + "}"}, ["run", "{d}/job.json"], "nested deeper than"),
    ("request-deep-yaml", {"job.yaml": "name: " + "[" * 100_000 + "]" * 100_000}, ["run", "{d}/job.yaml"], "nested deeper than"),
    ("request-block-deep", {"job.yaml": "name:\n" + "- " * 5_000 + "x\n"}, ["validate", "{d}/job.yaml"], "nested deeper than"),
    ("request-bigint-json", {"job.json": '{"name": ' + "1" * 5000 + "}"}, ["validate", "{d}/job.json"], "Exceeds the limit (4300 digits)"),
    ("request-bigint-yaml", {"job.yaml": "name: " + "1" * 5000 + "\n"}, ["validate", "{d}/job.yaml"], "Exceeds the limit (4300 digits)"),
    ("manifest-bigint", {"job.yaml": _manifest_request(), "manifest.json": _spec(x="N").replace('"N"', "1" * 5000)}, ["validate", "{d}/job.yaml"],
     "manifest.json: Exceeds the limit"),
    ("request-empty", {"job.yaml": ""}, ["validate", "{d}/job.yaml"], "a request must be a mapping"),
    ("request-list", {"job.yaml": "- a\n- b\n"}, ["validate", "{d}/job.yaml"], "a request must be a mapping"),
    ("request-truncated", {"job.yaml": _request().partition("test_cases:")[0]}, ["validate", "{d}/job.yaml"],
     "job.yaml: test_cases: missing required field"),  # cut at a fixed place: paths in it vary in length
    ("request-nul", {"job.yaml": "name: a\x00b\n"}, ["validate", "{d}/job.yaml"], "invalid YAML at line 1: character #x0000 is not allowed"),
    ("request-bom", {"job.yaml": "\ufeff- x\n"}, ["validate", "{d}/job.yaml"], "a request must be a mapping"),
    ("request-bomb", {"job.yaml": BOMB + _request().replace("expected_method: get\n  expected_parameters:", "expected_method: get\n  expected_parameters: *i\n  x:", 1)},
     ["validate", "{d}/job.yaml"], "expands to more than"),
    ("request-duplicate-key", {"job.yaml": "name: a\nversion: 1\nname: b\n"}, ["validate", "{d}/job.yaml"], "line 3: duplicate key 'name' (first at line 1)"),
    ("request-folder", {"job.yaml/x": "x"}, ["validate", "{d}/job.yaml"], "is a folder"),
    ("config-list", {"job.yaml": _request(config=[1, 2])}, ["validate", "{d}/job.yaml"], "config"),
    ("config-concurrency-text", {"job.yaml": _request(config={"concurrency": "many"})}, ["validate", "{d}/job.yaml"], "config.concurrency"),
    ("config-timeout-negative", {"job.yaml": _request(config={"timeout_sec": -1})}, ["validate", "{d}/job.yaml"], "config.timeout_sec"),
    ("config-url-map-number", {"job.yaml": _request(config={"url_map": {"https://x/": 5}})}, ["validate", "{d}/job.yaml"], "config.url_map"),
    ("config-prices-text", {"job.yaml": _request(config={"prices": {"m": {"input": "cheap"}}})}, ["validate", "{d}/job.yaml"], "config.prices"),
    ("config-max-response-bytes", {"job.yaml": _request(config={"max_response_bytes": "big"})}, ["validate", "{d}/job.yaml"], "config.max_response_bytes"),
    ("permutations-mapping", {"job.yaml": _request(permutations={"name": "p"})}, ["validate", "{d}/job.yaml"], "permutations"),
    ("plugin-groups-null", {"job.yaml": _request(plugin_groups=None)}, ["validate", "{d}/job.yaml"], "plugin_groups"),
    ("expected-parameters-text", {"job.yaml": _request(test_cases__1__expected_parameters="q=shirt")}, ["validate", "{d}/job.yaml"], "test_cases[1].expected_parameters"),
    ("translations-list", {"job.yaml": _request(test_cases__0__translations=["es"])}, ["validate", "{d}/job.yaml"], "test_cases[0].translations"),
    ("manifest-url-empty", {"job.yaml": _request(plugin_groups__0__plugins__0__manifest_url="")}, ["validate", "{d}/job.yaml"], "manifest_url"),
    ("manifest-url-number", {"job.yaml": _request(plugin_groups__0__plugins__0__manifest_url=5)}, ["validate", "{d}/job.yaml"], "manifest_url"),
    ("manifest-missing", {"job.yaml": _manifest_request("nothere.json")}, ["validate", "{d}/job.yaml"], "file not found"),
    ("manifest-html", {"job.yaml": _manifest_request(), "manifest.json": "<html><body>Not found</body></html>"},
     ["validate", "{d}/job.yaml"], "expected a JSON/YAML object at the top level"),
    ("manifest-binary", {"job.yaml": _manifest_request(), "manifest.json": bytes(range(256)) * 4}, ["validate", "{d}/job.yaml"], "manifest.json"),
    ("manifest-no-api-url", {"job.yaml": _manifest_request(), "manifest.json": json.dumps({"api": {"type": "openapi"}})},
     ["validate", "{d}/job.yaml"], "api.url is missing"),
    ("manifest-api-not-mapping", {"job.yaml": _manifest_request(), "manifest.json": json.dumps({"api": "x.json"})},
     ["validate", "{d}/job.yaml"], "not a plugin manifest"),
    ("openapi-paths-null", {"job.yaml": _manifest_request(), "manifest.json": _spec(paths=None)}, ["validate", "{d}/job.yaml"], "has no operations to choose from"),
    ("openapi-paths-list", {"job.yaml": _manifest_request(), "manifest.json": _spec(paths=["/a"])}, ["validate", "{d}/job.yaml"], "'paths' must be a mapping"),
    ("openapi-version-4", {"job.yaml": _manifest_request(), "manifest.json": _spec(openapi="4.0.0")}, ["validate", "{d}/job.yaml"], "4.0.0"),
    ("openapi-bad-ref", {"job.yaml": _manifest_request(), "manifest.json": _spec(paths={"/p": {"$ref": "#/nowhere"}})},
     ["validate", "{d}/job.yaml"], "does not resolve"),
    ("openapi-deep", {"job.yaml": _manifest_request(), "manifest.json": '{"openapi": "3.0.0", "x": ' + "[" * 50_000 + "]" * 50_000 + "}"},
     ["validate", "{d}/job.yaml"], "nested deeper than"),
    ("openapi-bomb", {"job.yaml": _manifest_request("manifest.yaml"), "manifest.yaml": BOMB + "openapi: 3.0.0\npaths: {}\n"},
     ["validate", "{d}/job.yaml"], "expands to more than"),
    ("provider-unknown", {"job.yaml": _request(permutations__0__llm__provider="Nope")}, ["validate", "{d}/job.yaml"], "unknown provider"),
    ("output-unknown-type", {"job.yaml": _request()}, ["run", "{d}/job.yaml", "--output", "{d}/out.txt"], "unknown output type .txt"),
    ("output-missing-folder", {"job.yaml": _request()}, ["run", "{d}/job.yaml", "--output", "{d}/no/such/out.json"], "does not exist"),
    ("output-is-folder", {"job.yaml": _request(), "out.json/x": "x"}, ["run", "{d}/job.yaml", "--output", "{d}/out.json"], "is a folder"),
    ("concurrency-zero", {"job.yaml": _request()}, ["run", "{d}/job.yaml", "--concurrency", "0"], "must be 1 or more"),
    ("url-map-not-mapping", {"job.yaml": _request(), "map.yaml": "- a\n"}, ["validate", "{d}/job.yaml", "ENV:PERMUTATE_URL_MAP={d}/map.yaml"],
     "map.yaml"),
    ("prices-not-mapping", {"job.yaml": _request(), "prices.yaml": "- a\n"}, ["run", "{d}/job.yaml", "ENV:PERMUTATE_PRICES={d}/prices.yaml"],
     "PERMUTATE_PRICES"),
    # batches
    ("batch-latin1", {"b.csv": "prompt,model\ncaf\xe9,gpt-x\n".encode("latin-1")}, ["batch", "{d}/b.csv"], "b.csv: not UTF-8 text (byte 16"),
    ("batch-huge-field", {"b.csv": "prompt,model\n" + "x" * 200_000 + ",gpt-x\n"}, ["batch", "{d}/b.csv"], "b.csv, line 2: a field is longer than"),
    ("batch-nul", {"b.csv": "prompt,model\nhel\x00lo,gpt-x\n"}, ["batch", "{d}/b.csv"], "NUL"),
    ("batch-folder", {"b.csv/x": "x"}, ["batch", "{d}/b.csv"], "is a folder"),
    ("batch-missing", {}, ["batch", "{d}/nothere"], "CSV file not found"),
    ("batch-empty", {"b.csv": ""}, ["batch", "{d}/b.csv"], "the batch has no rows"),
    ("batch-no-prompt", {"b.csv": "question,model\nhi,x\n"}, ["batch", "{d}/b.csv"], "'prompt' column"),
    ("batch-max-tokens-inf", {"b.csv": "prompt,model,max_tokens\nhi,gpt-x,inf\n"}, ["batch", "{d}/b.csv"], "max_tokens 'inf' is not a number"),
    ("batch-models-list", {"b.csv": GOOD_CSV, "m.yaml": "- a\n- b\n"}, ["batch", "{d}/b.csv", "--models", "{d}/m.yaml"], "must map a model name"),
    ("batch-models-entry-text", {"b.csv": GOOD_CSV, "m.yaml": "gpt-x: fast\n"}, ["batch", "{d}/b.csv", "--models", "{d}/m.yaml"],
     "model 'gpt-x' must be a mapping"),
    ("batch-models-params-list", {"b.csv": GOOD_CSV, "m.yaml": "gpt-x: {params: [1]}\n"}, ["batch", "{d}/b.csv", "--models", "{d}/m.yaml"],
     "gpt-x.params must be a mapping"),
    ("batch-models-bomb", {"b.csv": GOOD_CSV, "m.yaml": BOMB}, ["batch", "{d}/b.csv", "--models", "{d}/m.yaml"], "expands to more than"),
    ("batch-models-missing", {"b.csv": GOOD_CSV}, ["batch", "{d}/b.csv", "--models", "{d}/nothere.yaml"], "models file not found"),
    ("batch-output-type", {"b.csv": GOOD_CSV, "m.yaml": OK_MODELS}, ["batch", "{d}/b.csv", "--models", "{d}/m.yaml", "--output", "{d}/r.txt"],
     "unknown output type .txt"),
    ("batch-timeout-text", {"b.csv": GOOD_CSV}, ["batch", "{d}/b.csv", "ENV:EXECUTION_TIMEOUT=soon"], "EXECUTION_TIMEOUT='soon' is not a number"),
    # eval datasets
    ("dataset-line-not-object", {"d.jsonl": '{"input": "a"}\n[1, 2]\n'}, ["eval", "{d}/d.jsonl", "--model", "x"], "d.jsonl, line 2: expected a JSON object"),
    ("dataset-line-not-json", {"d.jsonl": '{"input": "a"}\n{oops\n'}, ["eval", "{d}/d.jsonl", "--model", "x"], "d.jsonl, line 2: not JSON"),
    ("dataset-line-deep", {"d.jsonl": "[" * 100_000 + "]" * 100_000 + "\n"}, ["eval", "{d}/d.jsonl", "--model", "x"], "line 1: nested deeper than"),
    ("dataset-latin1", {"d.jsonl": '{"input": "caf\xe9"}\n'.encode("latin-1")}, ["eval", "{d}/d.jsonl", "--model", "x"], "d.jsonl: not UTF-8 text (byte 14"),
    ("dataset-csv-latin1", {"d.csv": "input\ncaf\xe9\n".encode("latin-1")}, ["eval", "{d}/d.csv", "--model", "x"], "d.csv: not UTF-8 text"),
    ("dataset-yaml-strings", {"d.yaml": "- what?\n- why?\n"}, ["eval", "{d}/d.yaml", "--model", "x"], "case 1: a case is a mapping"),
    ("dataset-yaml-bomb", {"d.yaml": BOMB + "cases: *i\n"}, ["eval", "{d}/d.yaml", "--model", "x"], "expands to more than"),
    ("dataset-cases-text", {"d.yaml": "cases: nope\n"}, ["eval", "{d}/d.yaml", "--model", "x"], "cases must be a list"),
    ("dataset-txt", {"d.txt": "hello\n"}, ["eval", "{d}/d.txt", "--model", "x"], "use a .jsonl, .csv, .yaml or .json dataset"),
    ("dataset-folder", {"d.jsonl/x": "x"}, ["eval", "{d}/d.jsonl", "--model", "x"], "is a folder"),
    ("dataset-empty", {"d.jsonl": ""}, ["eval", "{d}/d.jsonl", "--model", "x"], "the dataset has no cases"),
    ("eval-output-type", {"d.jsonl": '{"input": "a"}\n'}, ["eval", "{d}/d.jsonl", "--model", "x", "--output", "{d}/e.md"],
     "unknown output type .md"),
    ("eval-models-not-mapping", {"d.jsonl": '{"input": "a"}\n', "m.yaml": "just text\n"},
     ["eval", "{d}/d.jsonl", "--model", "x", "--models", "{d}/m.yaml"], "must map a model name"),
    ("eval-empty-model", {"d.jsonl": '{"input": "a"}\n'}, ["eval", "{d}/d.jsonl", "--model", " "], "--model: a model name is empty"),
    # other commands
    ("generate-base-url", {}, ["generate", str(KLARNA), "--base-url", "not a url"], "must be an http(s) URL"),
    ("request-base-url-file", {"job.yaml": _request(permutations__0__llm__base_url="file:///etc/passwd")},
     ["validate", "{d}/job.yaml"], "permutations[0].llm.base_url"),
    ("generate-per-operation", {}, ["generate", str(KLARNA), "--per-operation", "-1"], "must be 1 or more"),
    ("generate-output-folder", {}, ["generate", str(KLARNA), "--output", "{d}/no/x.yaml"], "does not exist"),
    ("results-unknown-id", {}, ["results", "nope", "--output", "{d}/r.json"], "nope"),
    ("unknown-command", {}, ["frobnicate"], "invalid choice"),
]


def _run_case(folder: Path, files: dict[str, str | bytes], argv: list[str]) -> subprocess.CompletedProcess[str]:
    folder.mkdir(parents=True)
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    env = {**os.environ, "PERMUTATE_HOME": str(folder / "home"), "OPENAI_API_KEY": "sk-test",
           "PERMUTATE_URL_MAP": str(SNAPSHOTS / "url_map.yaml")}
    args = []
    for arg in argv:
        arg = arg.replace("{d}", str(folder))
        if arg.startswith("ENV:"):
            key, _, value = arg[4:].partition("=")
            env[key] = value
        else:
            args.append(arg)
    return subprocess.run([sys.executable, "-m", "permutate_nb.cli", *args], capture_output=True, text=True,
                          timeout=5 * DEADLINE, env=env, cwd=folder)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every case run once, four processes at a time."""
    root = tmp_path_factory.mktemp("bad_input")
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(_run_case, root / name, files, argv) for name, files, argv, _ in CASES}
        return {name: future.result() for name, future in futures.items()}


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 25
    assert len({name for name, *_ in CASES}) == len(CASES)


@pytest.mark.parametrize(("name", "fragment"), [(name, fragment) for name, _, _, fragment in CASES], ids=[c[0] for c in CASES])
def test_one_line_and_exit_2(outcomes: dict[str, subprocess.CompletedProcess[str]], name: str, fragment: str) -> None:
    proc = outcomes[name]
    err = proc.stderr
    assert "Traceback" not in err, err[-2000:]
    assert proc.returncode == 2, (proc.returncode, err[-2000:])
    errors = [line for line in err.splitlines() if line.startswith("permutate: error:")]
    assert len(errors) == 1 and len(err.strip().splitlines()) == 1, err
    assert fragment in errors[0], errors[0]
    assert len(errors[0]) < 400, errors[0]
