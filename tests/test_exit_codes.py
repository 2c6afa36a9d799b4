"""Exit code 3 (every run failed, or more than --max-errors N errored) for run, batch and eval, in real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from .helpers import DEADLINE, klarna_request

GOOD = {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}}


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PERMUTATE_HOME": str(cwd / "home")}
    return subprocess.run([sys.executable, "-m", "permutate_nb.cli", *args, "--quiet"], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=DEADLINE)


def _request(tmp_path: Path, base_url: str) -> Path:
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(klarna_request(base_url=base_url, cache=False, max_retries=0, repeats=2)))
    return path


def test_run_exits_3_when_every_run_failed(scripted: Any, tmp_path: Path) -> None:
    scripted.set_script({"rules": [{"match": "Show me", "responses": [{"status": 400}]},
                                   {"responses": [{"status": 404}]}]})
    done = _cli("run", str(_request(tmp_path, scripted.base_url)), cwd=tmp_path)
    assert done.returncode == 3, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("permutate: every run failed (4); the most common error (2 runs): ")
    assert "HTTP 40" in line and "job id:" in done.stdout


def test_run_max_errors(scripted: Any, tmp_path: Path) -> None:
    scripted.set_script({"rules": [{"match": "Show me", "responses": [{"status": 400}]}, {"responses": [GOOD]}]})
    path = _request(tmp_path, scripted.base_url)
    assert _cli("run", str(path), cwd=tmp_path).returncode == 0  # some runs errored: fine by default
    assert _cli("run", str(path), "--max-errors", "2", cwd=tmp_path).returncode == 0  # 2 errored, not more
    done = _cli("run", str(path), "--max-errors", "1", cwd=tmp_path)
    assert done.returncode == 3
    assert done.stderr.strip() == (f"permutate: 2 of 4 runs errored, more than --max-errors 1; the most common error "
                                   f"(2 runs): {scripted.base_url}/chat/completions answered HTTP 400: Bad request (scripted).")


def test_batch_exit_codes(scripted: Any, tmp_path: Path) -> None:
    scripted.set_script({"rules": [{"match": "bad", "responses": [{"status": 400}]}, {"responses": [{"text": "ok"}]}]})
    (tmp_path / "models.yaml").write_text(f"m: {{base_url: '{scripted.base_url}', model_name: gpt-4o-mini}}\n")
    (tmp_path / "all_bad.csv").write_text("prompt,model\nbad 1,m\nbad 2,m\n")
    (tmp_path / "some_bad.csv").write_text("prompt,model\nbad 1,m\ngood 2,m\ngood 3,m\n")
    done = _cli("batch", "all_bad.csv", "--models", "models.yaml", "--no-cache", cwd=tmp_path)
    assert done.returncode == 3 and "every run failed (2); the most common error (2 runs):" in done.stderr
    assert _cli("batch", "some_bad.csv", "--models", "models.yaml", "--no-cache", cwd=tmp_path).returncode == 0
    done = _cli("batch", "some_bad.csv", "--models", "models.yaml", "--no-cache", "--max-errors", "0", cwd=tmp_path)
    assert done.returncode == 3 and "1 of 3 runs errored, more than --max-errors 0" in done.stderr


def test_eval_exit_codes(scripted: Any, tmp_path: Path) -> None:
    scripted.set_script({"rules": [{"match": "France", "responses": [{"status": 400}]}, {"responses": [{"text": "x"}]}]})
    (tmp_path / "models.yaml").write_text(f"gen: {{base_url: '{scripted.base_url}', model_name: gpt-4o-mini}}\n")
    cases = [{"id": "q1", "input": "Capital of France?", "expected_output": "Paris"},
             {"id": "q2", "input": "Who wrote Hamlet?", "expected_output": "Shakespeare"}]
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(c) for c in cases))
    (tmp_path / "bad.jsonl").write_text(json.dumps(cases[0]))
    args = ("--model", "gen", "--models", "models.yaml", "--metrics", "exact-match", "--no-cache")
    done = _cli("eval", "bad.jsonl", *args, cwd=tmp_path)
    assert done.returncode == 3 and "every run failed (1); the most common error (1 run):" in done.stderr
    assert _cli("eval", "d.jsonl", *args, cwd=tmp_path).returncode == 0
    done = _cli("eval", "d.jsonl", *args, "--max-errors", "0", cwd=tmp_path)
    assert done.returncode == 3 and "1 of 2 runs errored" in done.stderr
