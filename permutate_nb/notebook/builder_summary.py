"""The request builder as a static summary: what a saved notebook shows where the live form cannot be.

A widget lives only as long as its kernel. Beside the widget view, the builder's display carries
this summary as ``text/html`` (and text): a notebook opened untrusted, exported (nbconvert), or
rendered elsewhere shows the form's content instead of an error; so does a trusted one reopened on a
new kernel, through the package's JupyterLab extension (``labextension/src/builder.ts`` looks for the
root class ``permutate-builder-summary``). Every value is escaped.
"""

from __future__ import annotations

import json
from typing import Any

from ..core.html_text import escape_html

__all__ = ["summary_html", "summary_text"]


def _llm(perm: dict[str, Any]) -> str:
    llm = perm.get("llm") or {}
    parts = [f"{llm.get('provider', 'OpenAIChat')}[{llm.get('model_name') or 'default'}]"]
    parts += [f"{key} {llm[key]}" for key in ("temperature", "max_tokens") if llm.get(key) is not None]
    selector = perm.get("tool_selector") or {}
    return " · ".join([*parts, f"selector {selector.get('provider', 'OpenAI')}", f"group {selector.get('plugin_group_name', '')}"])


def _case(case: dict[str, Any]) -> str:
    expected = " ".join(str(case[k]) for k in ("expected_method", "expected_api_used") if case.get(k))
    params = f" {json.dumps(case['expected_parameters'], ensure_ascii=False)}" if case.get("expected_parameters") else ""
    return f"{case.get('type', '')}: {case.get('prompt', '')!r} → {expected or '(no expectation)'}{params}"


def _sections(request: dict[str, Any], plugins: dict[str, str], provider: str) -> list[tuple[str, list[str]]]:
    config = request.get("config") or {}
    return [
        ("plugins", list(plugins.values()) or ["(none loaded)"]),
        ("plugin groups", [f"{g.get('name')}: {len(g.get('plugins') or [])} plugins" for g in request.get("plugin_groups") or []]),
        ("permutations", [f"{p.get('name')}: {_llm(p)}" for p in request.get("permutations") or []]),
        ("test cases", [f"{c.get('name')}: {_case(c)}" for c in request.get("test_cases") or []]),
        ("languages", [", ".join(config.get("auto_translate_to_languages") or ["English"])]),
        ("run on", ["the local model" if provider == "local" else "the models as written"]),
    ]


def summary_text(request: dict[str, Any], plugins: dict[str, str], provider: str = "") -> str:
    """The form as plain text (the ``text/plain`` beside the widget view)."""
    lines = [f"request builder: {request.get('name')} {request.get('version', '')}".rstrip()]
    for title, items in _sections(request, plugins, provider):
        lines += [f"  {title}:", *(f"    {item}" for item in items)]
    return "\n".join(lines)


def summary_html(request: dict[str, Any], plugins: dict[str, str], provider: str = "") -> str:
    """The form as a static HTML summary; says how to get the live form back."""
    body = "".join(
        f"<div style='margin-top:4px'><b>{escape_html(title)}</b><ul style='margin:2px 0'>"
        + "".join(f"<li>{escape_html(item)}</li>" for item in items) + "</ul></div>"
        for title, items in _sections(request, plugins, provider))
    return (f"<div class='permutate-builder-summary' style='font-family:sans-serif;font-size:12px;border:1px solid #ddd;"
            f"border-radius:4px;padding:6px 10px'><div style='font-weight:600'>request builder: "
            f"{escape_html(str(request.get('name')))} {escape_html(str(request.get('version', '')))}</div>{body}"
            "<div style='color:#666;margin-top:4px'>a saved form: run the cell again for the live form "
            "(<code>builder.cell</code> holds it as a <code>%%permutate</code> cell)</div></div>")
