"""Small HTML pieces the transcripts and run lists share, and their one style sheet.

Every helper takes text and escapes it (``core.html_text``); callers pass HTML only through the
parameters named ``html``. The style sheet is scoped by ``pn-`` class names, so a view can sit in a
notebook, a report or the server's page without touching anything around it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ..core.html_text import escape_html, plain_text

__all__ = ["STYLE", "esc", "pre", "section", "verdict_badge", "field_table", "json_text", "fold"]

esc = escape_html

STYLE = """<style>
.pn-v{font-family:sans-serif;font-size:13px;color:#222}
.pn-t{border:1px solid #ccc;border-radius:4px;padding:4px 10px 8px;margin:4px 0;background:#fff;color:#222}
.pn-t h4{margin:8px 0 2px;font-size:11px;color:#555;text-transform:uppercase;letter-spacing:.03em}
.pn-t pre{white-space:pre-wrap;word-break:break-word;background:#f5f5f5;color:#222;padding:4px 6px;margin:2px 0;
  max-height:24em;overflow:auto;font-size:12px}
.pn-t table{border-collapse:collapse;margin:2px 0}
.pn-t td,.pn-t th{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top;font-size:12px}
.pn-bad,.pn-t tr.pn-bad td{background:#f9d6d5}
.pn-ok,.pn-t tr.pn-ok td{background:#e4f4e4}
.pn-badge{display:inline-block;padding:0 6px;border-radius:3px;font-weight:600;font-size:12px}
.pn-passed-b{background:#d9f2d9;color:#145214}.pn-wrong-b{background:#f9d6d5;color:#8a1111}
.pn-errored-b{background:#fde9c8;color:#7a4a00}
.pn-msg{border-left:4px solid #bbb;padding:2px 8px;margin:4px 0}
.pn-msg b{font-size:11px;text-transform:uppercase;color:#555}
.pn-msg-user{border-color:#4c72b0}.pn-msg-assistant{border-color:#55a868}.pn-msg-tool{border-color:#937860}
.pn-step-bad{outline:2px solid #c44e52;background:#fdecea}
.pn-list{margin:4px 0}
.pn-row{border-bottom:1px solid #eee}
.pn-row>summary,.pn-head{display:grid;grid-template-columns:minmax(8em,2fr) minmax(6em,1.5fr) 7em 6em minmax(8em,3fr);
  gap:6px;padding:2px 4px;cursor:pointer}
.pn-head{font-weight:600;cursor:default;border-bottom:2px solid #ccc;padding-left:22px}
.pn-row.pn-wrong>summary{background:#fbe7e6}.pn-row.pn-errored>summary{background:#fef3e0}
.pn-row.pn-passed>summary{background:#f0f9f0}
.pn-bar label{margin-right:10px;cursor:pointer}
.pn-bar input{margin:0 2px 0 0;vertical-align:middle}
.pn-group>summary{font-weight:600;cursor:pointer;padding:2px 0}
.pn-nomatch{display:none!important}
</style>"""


def json_text(value: Any) -> str:
    """A value as indented JSON text (any object as its ``str``)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def pre(value: Any) -> str:
    """A value as escaped preformatted text (JSON for anything not a string), wrapped rather than cut."""
    return f"<pre>{esc(json_text(value))}</pre>"


def section(title: str, html: str) -> str:
    """A titled part of a transcript (``html`` is already escaped)."""
    return f"<h4>{esc(title)}</h4>{html}" if html else ""


def fold(title: str, html: str, open_: bool = False) -> str:
    """A part shown on demand (``<details>``)."""
    return f"<details{' open' if open_ else ''}><summary>{esc(title)}</summary>{html}</details>" if html else ""


def verdict_badge(outcome: str) -> str:
    """A coloured badge naming the outcome (``passed``, ``wrong``, ``errored``) in the style sheet's colours."""
    return f'<span class="pn-badge pn-{esc(outcome)}-b">{esc(outcome)}</span>'


def field_table(rows: Iterable[tuple[str, Any]]) -> str:
    """Two columns: a name and its value as text."""
    cells = "".join(f"<tr><th>{esc(name)}</th><td>{esc(plain_text(value))}</td></tr>" for name, value in rows
                    if value is not None and value != "")
    return f"<table>{cells}</table>" if cells else ""
