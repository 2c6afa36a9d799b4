"""Small helpers for the server tests: scripts, polling, the documents' bodies."""

from __future__ import annotations

import ast
import json
import time
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import DEADLINE

DOCS = Path(__file__).parents[1] / "data"  # the reference documents' bodies and examples, verbatim
TOOL_CALL = {"default": {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}}}
FINAL = ("SUCCESS", "PARTIAL_SUCCESS", "ERROR", "CANCELLED")


def body(name: str) -> Any:
    """A reference document's example body, as written (``None`` read as null)."""
    return json.loads((DOCS / name).read_text())


def start_job_bodies() -> dict[str, Any]:
    """The start-job document's curl, Python and REST bodies, each as its tab sends it."""
    python = ast.literal_eval((DOCS / "start_job_python.txt").read_text())
    return {"curl": json.loads((DOCS / "start_job_curl.json").read_text()), "python": python,
            "rest": json.loads((DOCS / "start_job_rest.json").read_text())}


def wait_for(client: httpx.Client, job_id: str, statuses: tuple[str, ...] = FINAL, timeout: float = DEADLINE) -> dict[str, Any]:
    """Poll the job's status until it is one of ``statuses``."""
    deadline = time.monotonic() + timeout
    while True:
        status = client.get(f"/api/jobs/{job_id}").json()
        if status["status"] in statuses:
            return status
        assert time.monotonic() < deadline, f"job {job_id} still {status['status']}"
        time.sleep(0.05)


def assert_422(response: httpx.Response, loc: list[Any], text: str) -> dict[str, Any]:
    """FastAPI's validation shape, with an entry at ``loc`` whose message contains ``text``."""
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert all(set(entry) == {"loc", "msg", "type"} for entry in detail), detail
    match = [entry for entry in detail if entry["loc"] == loc]
    assert match, detail
    assert text in match[0]["msg"], match[0]
    return match[0]
