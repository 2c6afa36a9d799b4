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


def test_model_arguments_raw_replies_and_nul_are_text_in_the_view(scripted: Any) -> None:
    """The model picks the arguments: a dict cell (``plugin_parameters_mapped``) is rendered as
    escaped JSON text, and NUL never reaches the page (issue 21, "no stored script")."""
    scripted.set_script({"default": {"tool_call": {"name": "productsUsingGET",
                                                   "arguments": {"q": EVIL + "\x00", "size": 5}}}})
    data = klarna_request(base_url=scripted.base_url)
    data["test_cases"][1]["name"] = "case\x00<b>bold</b>"
    result = pn.run(data, cache=False, store=False)
    assert result.details[0].plugin_parameters_mapped["q"] == EVIL + "\x00"
    page = render_html(result)
    assert "<img" not in page and "<b>bold" not in page and "\x00" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_escape_html_covers_controls_and_containers() -> None:
    from permutate_nb.core.html_text import escape_html

    assert escape_html({"a": "<i>\x00"}) == "{&quot;a&quot;: &quot;&lt;i&gt;\\u0000&quot;}"  # JSON's escape
    assert escape_html("<i>\x00") == "&lt;i&gt;\ufffd"
    assert escape_html("tab\tand\nnewline stay") == "tab\tand\nnewline stay"
