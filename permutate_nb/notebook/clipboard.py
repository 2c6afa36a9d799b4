"""Copy text to the browser's clipboard from the kernel, and say plainly when that was not possible.

The kernel has no clipboard: a small script output asks the browser (``navigator.clipboard``), which
allows it only on a secure page (https or localhost) shortly after a click. The script writes what
happened into its own output; a frontend that runs no script shows the ``text/plain`` instead, which
says the copy did not happen.
"""

from __future__ import annotations

import json

__all__ = ["copy_bundle", "COPIED", "NOT_COPIED"]

COPIED = "copied the YAML to the clipboard"
NOT_COPIED = "could not copy to the clipboard here"
_HOW = "select the YAML above and copy it (Ctrl+C / Cmd+C)"


def copy_bundle(text: str) -> dict[str, str]:
    """A raw display bundle: a script that copies ``text``, and the plain message for frontends without scripts."""
    script = (
        "(function(){var text=" + json.dumps(text).replace("</", "<\\/") + ";"
        "var say=function(m){if(typeof element!=='undefined'&&element){element.textContent=m;"
        "element.setAttribute('data-permutate-copy',m.indexOf(" + json.dumps(COPIED) + ")===0?'copied':'failed');}};"
        "if(!navigator.clipboard||!window.isSecureContext){say(" + json.dumps(f"{NOT_COPIED}: the page does not allow it; {_HOW}") + ");return;}"
        "navigator.clipboard.writeText(text).then(function(){say(" + json.dumps(COPIED) + ");},"
        "function(e){say(" + json.dumps(NOT_COPIED + " (") + "+(e&&e.name||'refused')+" + json.dumps(f"): {_HOW}") + ");});})();"
    )
    return {"application/javascript": script, "text/plain": f"{NOT_COPIED} (this frontend runs no script): {_HOW}"}
