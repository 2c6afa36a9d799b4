"""Why a run did not pass, in a few words: the failure groups every view opens on.

A run that passed has no reason. One that errored (no verdict) is ``errored``. A wrong one (the
model answered, the verdict is no) is put under the first step that failed: ``no call``, ``wrong
plugin``, ``wrong operation``, then one ``parameter mismatch: NAME`` per parameter that did not
match (a run with two wrong parameters sits in both groups), else ``wrong``. A conversation row
(``turns``) is wrong at its first turn whose verdict is not a pass. Rows are read as mappings
(``RunDetail.to_dict()``, a stored row, a DataFrame record), so every kind of row fits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..status import RunOutcome

__all__ = ["ERRORED", "outcome_of", "passing", "failure_reasons", "failure_groups"]

ERRORED = "errored"
_PASSING = frozenset({True, "passed", "pass", "yes", "ok", "correct"})


def outcome_of(row: Mapping[str, Any]) -> RunOutcome:
    """passed, wrong or errored, from the row's ``is_run_completed`` and ``passed``."""
    return RunOutcome.of(bool(row.get("is_run_completed")), bool(row.get("passed")))


def passing(verdict: Any) -> bool:
    """A conversation turn's verdict that counts as a pass (``True``, ``"passed"``, ``"yes"``, ...)."""
    return (verdict.lower() if isinstance(verdict, str) else verdict) in _PASSING


def _turn_reason(turns: list[Any]) -> str | None:
    for i, turn in enumerate(turns):
        if isinstance(turn, Mapping) and not passing(turn.get("verdict")):
            return f"wrong at turn {turn.get('turn', i + 1)}"
    return None


def failure_reasons(row: Mapping[str, Any]) -> list[str]:
    """The groups a run falls in (empty when it passed)."""
    outcome = outcome_of(row)
    if outcome is RunOutcome.PASSED:
        return []
    if outcome is RunOutcome.ERRORED:
        return [ERRORED]
    turns = row.get("turns")
    if isinstance(turns, list) and turns:
        reason = _turn_reason(turns)
        if reason:
            return [reason]
    if not row.get("plugin_operation") and not row.get("calls_made") and not row.get("plugin_name"):
        return ["no call"]
    if not row.get("is_plugin_detected"):
        return ["wrong plugin"]
    if not row.get("is_plugin_operation_found"):
        return ["wrong operation"]
    names = list(dict.fromkeys(str(m.get("parameter")) for m in row.get("parameter_mismatches") or ()
                               if isinstance(m, Mapping)))
    return [f"parameter mismatch: {name}" for name in names] or ["wrong"]


def failure_groups(rows: Iterable[Mapping[str, Any]]) -> list[tuple[str, list[int]]]:
    """(reason, the rows' indices) for every reason, the largest group first, ``errored`` last among equals."""
    groups: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        for reason in failure_reasons(row):
            groups.setdefault(reason, []).append(index)
    return sorted(groups.items(), key=lambda item: (-len(item[1]), item[0] == ERRORED))
