"""Text for HTML: everything a view renders from a run (names, model arguments, raw replies) is text.

``html.escape`` leaves NUL and other C0 controls alone; browsers and the notebook's sanitiser
treat them in ways that differ, so they become U+FFFD here too. Non-text cells (a model's
arguments are a dict) are turned into JSON text first: a table renderer that escapes only
strings would otherwise paste ``str(dict)`` into the page as it is.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

__all__ = ["escape_html", "plain_text", "text_frame"]

_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def plain_text(value: Any) -> str:
    """A cell as text: JSON for containers, ``str`` otherwise, control characters replaced."""
    if isinstance(value, (dict, list, tuple)):
        value = json.dumps(value, ensure_ascii=False, default=str)
    return _CONTROLS.sub("\ufffd", value if isinstance(value, str) else str(value))


def escape_html(value: Any, quote: bool = True) -> str:
    """``plain_text`` escaped for HTML (``& < > " '``)."""
    return html.escape(plain_text(value), quote=quote)


def text_frame(frame: Any) -> Any:
    """A copy of a DataFrame whose object cells, index and column labels are ``plain_text``
    (numbers, booleans and missing values stay as they are, for the number formats)."""
    def cell(value: Any) -> Any:
        if value is None or isinstance(value, (bool, int, float)):
            return value
        return plain_text(value)

    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    def textual(dtype: Any) -> bool:  # object or pandas' string dtype: anything but numbers and booleans
        return not (is_numeric_dtype(dtype) or is_bool_dtype(dtype))

    out = frame.copy()
    for i, dtype in enumerate(out.dtypes):
        if textual(dtype):
            out.isetitem(i, out.iloc[:, i].map(cell))
    if textual(out.index.dtype):
        out.index = out.index.map(cell)
    if textual(out.columns.dtype):
        out.columns = out.columns.map(cell)
    return out
