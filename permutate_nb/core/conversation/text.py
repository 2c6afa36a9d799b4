"""A conversation row in one line, for tables: each turn's verdict, its calls and, when it failed, why."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

__all__ = ["turns_text"]

_ARGS = 40  # characters of a call's arguments kept


def _call(call: dict[str, Any]) -> str:
    arguments = json.dumps(call.get("parameters"), ensure_ascii=False, default=str) if call.get("parameters") else ""
    if len(arguments) > _ARGS:
        arguments = arguments[:_ARGS - 1] + "…"
    return f"{call.get('tool') or call.get('api')}({arguments.strip('{}')})"


def turns_text(turns: Sequence[dict[str, Any]] | None) -> str:
    """``1 ✓ add_item("item": "milk") | 2 ✗ missing call remove_item``; empty for a row without turns."""
    parts = []
    for turn in turns or ():
        mark = "✓" if turn.get("verdict") else "✗"
        calls = ", ".join(_call(c) for c in turn.get("calls_made") or ()) or "no call"
        why = f" – {'; '.join(turn['mismatches'])}" if not turn.get("verdict") and turn.get("mismatches") else ""
        parts.append(f"{turn.get('turn')} {mark} {calls}{why}")
    return " | ".join(parts)
