"""Manifest strings reach the notebook's HTML as text: a plugin named like an HTML tag stays inert."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import permutate_nb as pn
from permutate_nb.notebook.view import render_html

from ..helpers import KLARNA, klarna_request

EVIL = "<img src=x onerror=alert(1)>"


def _evil_manifest(tmp_path: Path) -> Path:
    manifest = json.loads(KLARNA.read_text())
    manifest["name_for_human"] = EVIL
    path = tmp_path / "evil.json"
    path.write_text(json.dumps(manifest))
    return path


def test_the_builder_lists_an_evil_plugin_name_as_text(tmp_path: Path) -> None:
    builder = pn.RequestBuilder()
    plugin = builder.add_plugin(str(_evil_manifest(tmp_path)))
    assert plugin is not None and plugin.name == EVIL
    for value in (builder.plugin_list.value, builder.plugin_message.value):
        assert "<img" not in value
    assert "&lt;img src=x onerror=alert(1)&gt;" in builder.plugin_list.value


def test_the_result_view_shows_evil_names_and_answers_as_text(scripted: Any, tmp_path: Path) -> None:
    manifest = _evil_manifest(tmp_path)
    scripted.set_script({"rules": [{"match": "Show me", "responses": [
        {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}}]},
        {"responses": [{"text": EVIL}]}]})
    data = klarna_request(manifest=manifest, base_url=scripted.base_url)
    data["permutations"][0]["name"] = EVIL
    data["test_cases"][0]["name"] = "<script>x()</script>"
    result = pn.run(data, cache=False)
    page = render_html(result)
    assert result.details[0].plugin_name == EVIL
    assert "<img" not in page and "<script>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
