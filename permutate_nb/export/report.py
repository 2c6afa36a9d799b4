"""The shareable report: one self-contained HTML file (``result.write("report.html")``,
``permutate report JOB_ID -o report.html``, the server's ``/jobs/{id}``).

Its body is the notebook's view of the result with every run listed (``core.hooks.page``): the summary
with intervals, the charts, the comparison, the failure groups and every transcript, under the same
filter and pages. The file loads nothing (no script, style or font from the network); its one
script, fixed text with nothing of the result in it, adds a search box. Everything taken from the
result is escaped text, so a ``</script>`` in a model's reply stays text.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from ..core import hooks
from ..core.html_text import escape_html

__all__ = ["report_html", "write_report", "CONTENT_SECURITY_POLICY"]

_PAGE_STYLE = """<style>
body{margin:16px 24px;background:#fff;color:#222;font-family:sans-serif}
.pn-top{position:sticky;top:0;background:#fff;padding:6px 0;border-bottom:1px solid #ddd;z-index:1}
#pn-search{width:28em;padding:3px 6px;font-size:14px}
table{font-size:13px}
</style>"""

# Fixed text: nothing from the result is ever put into it.
_SEARCH_SCRIPT = """<script>
(function () {
  var box = document.getElementById("pn-search"), count = document.getElementById("pn-search-count");
  var rows = Array.prototype.slice.call(document.querySelectorAll(".pn-row")), texts = null;
  box.addEventListener("input", function () {
    var q = box.value.trim().toLowerCase();
    if (texts === null) { texts = rows.map(function (r) { return r.textContent.toLowerCase(); }); }
    rows.forEach(function (r, i) { r.classList.toggle("pn-nomatch", q !== "" && texts[i].indexOf(q) < 0); });
    document.querySelectorAll(".pn-list").forEach(function (l) { l.classList.toggle("pn-searching", q !== ""); });
    var shown = document.querySelectorAll(".pn-list .pn-row:not(.pn-nomatch)").length;
    count.textContent = q === "" ? "" : shown + " matching run" + (shown === 1 ? "" : "s");
  });
})();
</script>"""


_SCRIPT_HASH = base64.b64encode(hashlib.sha256(
    _SEARCH_SCRIPT.removeprefix("<script>").removesuffix("</script>").encode()).digest()).decode()
#: Nothing loads from anywhere, and the one script that runs is the search (by its hash): were a string
#: ever to slip through unescaped, the browser would still not run it.
CONTENT_SECURITY_POLICY = (f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                           f"script-src 'sha256-{_SCRIPT_HASH}'; base-uri 'none'; form-action 'none'")


def _title(result: Any) -> str:
    name = getattr(result, "job_name", None) or (getattr(result, "dataset", None) or {}).get("name") or result.kind
    return f"{name}: {result.kind} report"


def report_html(result: Any) -> str:
    """The report as one HTML document."""
    title = escape_html(_title(result))
    meta = " · ".join(escape_html(part) for part in (
        f"job {result.job_id}" if result.job_id else "", f"status {result.status}",
        f"started {result.started_at}" if result.started_at else "", "written by permutate_nb") if part)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CONTENT_SECURITY_POLICY}\">"
            f"<title>{title}</title>{_PAGE_STYLE}</head><body>"
            f"<div class=\"pn-top\"><h2 style=\"margin:0 0 4px\">{title}</h2><div>{meta}</div>"
            "<label>Search runs: <input id=\"pn-search\" type=\"search\" placeholder=\"case, model, reply, reason...\">"
            "</label> <span id=\"pn-search-count\"></span></div>"
            f"{hooks.page(result)}{_SEARCH_SCRIPT}</body></html>\n")


def write_report(result: Any, path: str | Path) -> Path:
    """Write the report to ``path`` (UTF-8)."""
    path = Path(path)
    path.write_text(report_html(result), encoding="utf-8")
    return path
