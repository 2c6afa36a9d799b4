"""The start-job reference document's own request bodies, as written, load and run.

``tests/data/start_job_*`` are the document's curl, Python and REST bodies copied verbatim (the
code-block indentation removed); only the curl body's Python ``None`` became JSON ``null``. The
Python body is a Python literal, turned into JSON the way the document does (``json.dumps``).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import permutate_nb as pn
from permutate_nb.core.request.models import load_request

from .helpers import DEADLINE

DATA = Path(__file__).parent / "data"
REST = DATA / "start_job_rest.json"


def _bodies() -> dict[str, str]:
    python_body = json.dumps(ast.literal_eval((DATA / "start_job_python.txt").read_text()))
    return {"curl": (DATA / "start_job_curl.json").read_text(), "python": python_body, "rest": REST.read_text()}


def test_the_three_bodies_load_as_the_same_request() -> None:
    requests = {name: load_request(text) for name, text in _bodies().items()}
    assert requests["curl"].to_dict() == requests["python"].to_dict() == requests["rest"].to_dict()
    for name, text in _bodies().items():
        plan = pn.validate(text)  # Imprompt without tool_selector_endpoint is accepted
        assert plan.total_runs == 12, name
        assert [p.tool_selector.provider for p in plan.request.permutations] == ["OpenAI", "Imprompt", "Langchain"]
        assert plan.request.config.tool_selector_endpoint is None and plan.request.config.openplugin_api_key == ""


def test_the_rest_body_runs_offline_on_the_embedded_model(tmp_path: Path) -> None:
    """The body as written but for its runs' deadline: config.timeout_sec's 60 s is for a hosted model, and the
    embedded one on a busy 2-core machine may need longer; one run at a time, so no run waits for the model."""
    body = json.loads(REST.read_text())
    body["config"]["timeout_sec"] = 5 * DEADLINE
    request = tmp_path / "start_job_rest.json"
    request.write_text(json.dumps(body))
    out = tmp_path / "out.json"
    proc = subprocess.run([sys.executable, "-m", "permutate_nb.cli", "run", str(request), "--provider", "local",
                           "--concurrency", "1", "--output", str(out), "--quiet"], capture_output=True, text=True,
                          timeout=10 * DEADLINE)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text())
    assert list(data)[:8] == ["job_name", "started_on", "completed_on", "test_plugin", "permutations", "summary",
                              "details", "output_directory"]
    assert data["job_name"].startswith("klarna_plugin_test-1.1.0-")
    assert [p["tool_selector"]["provider"] for p in data["permutations"]] == ["OpenAI", "Imprompt", "Langchain"]
    details = data["details"]
    assert len(details) == 12 and data["summary"]["total_test_cases"] == 12
    assert {(d["permutation_name"], d["test_case_name"], d["language"]) for d in details} == {
        (p, t, lang) for p in ("permutation1", "permutation2", "permutation3")
        for t in ("test1", "test2") for lang in ("English", "Spanish")}
    assert data["summary"]["failed_cases"] == 0, [d["error"] for d in details if not d["is_run_completed"]]
    imprompt = [d for d in details if d["permutation_name"] == "permutation2"]
    assert all(d["permutation_summary"] == "local[SmolLM2-135M-Instruct] - Imprompt[default]" for d in imprompt)
    for row in imprompt:
        steps = row["intermediate_steps"]
        assert [s["step"] for s in steps] == ["plugin_choice", "operation_choice"], steps
        assert all(s["answer"] and s["prompt_tokens"] > 0 for s in steps)
        assert row["total_llm_tokens_used"] == sum(s["prompt_tokens"] + s["completion_tokens"] for s in steps)
