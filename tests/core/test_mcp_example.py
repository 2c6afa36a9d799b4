"""The bundled example ``examples/mcp_tools.yaml`` (an MCP server from PyPI and an OpenAI tools file)
runs end to end offline: on the scripted model, and on the embedded model."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

import permutate_nb as pn
from permutate_nb.core.request.models import load_request

pytest.importorskip("mcp")

EXAMPLE = Path(pn.__file__).parent / "examples" / "mcp_tools.yaml"


@pytest.fixture(autouse=True)
def _venv_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The example names ``mcp-server-time`` as an activated environment finds it."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")


def test_example_on_the_scripted_model(scripted: Any) -> None:
    scripted.set_script({"rules": [
        {"match": "Tokyo", "responses": [{"tool_call": {"name": "get_current_time", "arguments": {"timezone": "Asia/Tokyo"}}}]},
        {"match": "Oslo", "responses": [{"tool_call": {"name": "get_forecast", "arguments": {"city": "Oslo", "days": 3}}}]},
    ]})
    request = load_request(EXAMPLE).to_dict()
    request["permutations"][0]["llm"]["base_url"] = scripted.base_url
    result = pn.run(request)
    assert result.summary["overall_accuracy"] == 100.0
    rows = {row.test_case_name: row for row in result.details}
    assert json.loads(rows["tokyo_time"].final_output or "")["timezone"] == "Asia/Tokyo"  # the real server answered
    assert rows["oslo_rain"].final_output is None and "no Python callable" in (rows["oslo_rain"].error or "")


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="the embedded model needs the local extra")
def test_example_on_the_embedded_model() -> None:
    request = load_request(EXAMPLE).to_dict()
    request["test_cases"] = request["test_cases"][:1]
    result = pn.run(request, provider="local")
    (row,) = result.details
    assert row.is_run_completed, row.error
    assert row.plugin_name in ("time", "weather") and row.plugin_operation in (
        "get_current_time", "convert_time", "get_weather", "get_forecast")
    if row.plugin_name == "time" and row.error is None:  # the model's call really went to the server
        assert row.final_output
