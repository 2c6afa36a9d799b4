"""One conversation turn's calls scored against its expectation, by ``trajectory_match``.

The pairing and the parameter comparison are those of single-turn cases (``scoring.calls``);
what changes per mode is which calls may be missing or extra: ``strict``, the same calls in
the same order; ``unordered``, the same multiset; ``subset``, every call made was expected;
``superset``, every expected call was made. Mismatches are written as short sentences
(``missing call get_weather``), which the row keeps and the run's ``reason`` quotes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..plugins.tools import ToolSet
from ..request.locations import normalise_url
from ..request.models import Turn
from ..scoring.calls import Call, ExpectedCallSpec, score_calls
from ..scoring.matching import describe_mismatches

__all__ = ["TurnVerdict", "expected_of_turn", "score_turn"]

_COVERAGE = {"strict": "exact", "unordered": "exact", "subset": "subset", "superset": "superset"}


@dataclass(slots=True)
class TurnVerdict:
    """One turn's score: passed or not, the calls it expected, and why it failed."""

    verdict: bool
    expected: list[ExpectedCallSpec]
    mismatches: list[str] = field(default_factory=list)


def _plugin_of(api: str, toolset: ToolSet) -> str:
    """The plugin of the tool ``api`` names: a tool name, an operationId or an operation URL."""
    operation = toolset.by_name.get(api)
    if operation is None:
        wanted = normalise_url(api)
        operation = next((op for op in toolset.by_name.values()
                          if op.operation_id == api or normalise_url(op.url) == wanted), None)
    return operation.plugin_id if operation is not None else ""


def expected_of_turn(turn: Turn, toolset: ToolSet) -> list[ExpectedCallSpec]:
    """The turn's expected calls, each with its plugin (given, else that of the tool its ``api`` names)."""
    return [ExpectedCallSpec(c.plugin if c.plugin is not None else _plugin_of(c.api, toolset), c.api, c.method,
                             c.parameters) for c in turn.expected_calls or ()]


def _label(call: Call) -> str:
    return call.name or call.url or "?"


def score_turn(turn: Turn, made: Sequence[Call], toolset: ToolSet, *, trajectory: str, mode: str,
               language: str) -> TurnVerdict:
    """The turn's verdict and, when it fails, what went wrong in words."""
    expected = expected_of_turn(turn, toolset)
    if turn.expect_no_call:
        return TurnVerdict(not made, expected, [f"unexpected call {_label(c)}" for c in made])
    if turn.expected_calls is None:  # nothing expected of this turn's calls: not scored
        return TurnVerdict(True, expected)
    verdict = score_calls(expected, made, test_type="api_signature_selector", mode=mode,
                          call_order="strict" if trajectory == "strict" else "any", language=language,
                          coverage=_COVERAGE[trajectory])
    if verdict.passed:
        return TurnVerdict(True, expected)
    problems: list[str] = []
    paired: set[int] = set()
    for pairing in verdict.pairings:
        spec = expected[pairing.expected]
        if pairing.made is None:
            if trajectory != "subset":
                problems.append(f"missing call {spec.api}")
            continue
        call = made[pairing.made]
        other = call.url is None or normalise_url(call.url) != normalise_url(spec.api)
        if other and trajectory != "strict":  # an unrelated call: this one is missing, that one extra
            if trajectory != "subset":
                problems.append(f"missing call {spec.api}")
            continue
        paired.add(pairing.made)
        if pairing.passed:
            continue
        if other:
            problems.append(f"call {pairing.made + 1}: {_label(call)} instead of {spec.api}")
        elif not call.decoded:
            problems.append(f"call {_label(call)}: its arguments are not a JSON object")
        else:
            problems.append(f"call {_label(call)}: {describe_mismatches([m.to_dict() for m in pairing.mismatches])}")
    if trajectory != "superset":
        problems += [f"extra call {_label(c)}" for j, c in enumerate(made) if j not in paired]
    if not problems:  # e.g. a subset turn whose made call paired with nothing that passes
        problems.append("the calls do not match the expected ones")
    return TurnVerdict(False, expected, problems)


def calls_dicts(calls: Sequence[Call]) -> list[dict[str, Any]]:
    return [c.to_dict() for c in calls]
