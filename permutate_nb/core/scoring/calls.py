"""Every call of one answer scored against the calls a test case expects (several, none, any).

Why its own module: a test case may expect several calls (``expected_calls``: parallel, or across
several functions), no call (``expect_no_call``) or at least one (``expect_any_call``), and the
multi-turn work scores each turn the same way. The expected calls are matched as a multiset:
each expected call is paired with one call made, order-free unless ``call_order: strict``, and a
call too many or too few fails the case. In ``bfcl`` mode the pairing is BFCL's own
(``parallel_function_checker_no_order``: expected calls in order, each taking the first unpaired
call that passes); otherwise it is a maximum matching, so no order of the calls can hide a pairing.

Steps for these cases (README, "Several calls"): step a, every expected call pairs with a call to
its plugin; step b, every expected call pairs with a call to its operation and no call is extra;
step c (api_signature_selector), the case passed. ``expect_no_call``/``expect_any_call`` cases
pass or fail every step together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..request.locations import normalise_url
from .matching import Mismatch, compare_parameters

if TYPE_CHECKING:
    from ..plugins.openapi import Operation

__all__ = ["Call", "CallsVerdict", "ExpectedCallSpec", "Pairing", "score_calls"]


@dataclass(frozen=True, slots=True)
class Call:
    """One tool call the model made; ``url`` is None for a tool the plugins do not have, and
    ``arguments`` None when they were not a JSON object (BFCL: no call was decoded)."""

    name: str | None
    plugin_id: str | None = None
    plugin_name: str | None = None
    url: str | None = None
    method: str | None = None
    arguments: dict[str, Any] | None = None
    operation: Operation | None = None

    @property
    def decoded(self) -> bool:
        """False when the arguments were not a JSON object: the call counts as made but never matches."""
        return self.arguments is not None

    def to_dict(self) -> dict[str, Any]:
        """The call in the expected-call form (plugin, api, method, parameters) plus the tool name, for the row."""
        return {"plugin": self.plugin_id, "api": self.url, "method": self.method, "parameters": self.arguments,
                "tool": self.name}


@dataclass(frozen=True, slots=True)
class ExpectedCallSpec:
    """One expected call (a test case's ``expected_calls`` item, or its single expectation)."""

    plugin: str
    api: str
    method: str | None = None
    parameters: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The expectation in ``expected_calls``' form, for the row."""
        return {"plugin": self.plugin, "api": self.api, "method": self.method, "parameters": self.parameters}


@dataclass(frozen=True, slots=True)
class Pairing:
    """An expected call and the call made paired with it (None: none left), with why it fails."""

    expected: int
    made: int | None
    passed: bool
    mismatches: tuple[Mismatch, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The pairing as the row stores it (mismatches under ``parameter_mismatches``)."""
        return {"expected": self.expected, "made": self.made, "passed": self.passed,
                "parameter_mismatches": [m.to_dict() for m in self.mismatches]}


@dataclass(frozen=True, slots=True)
class CallsVerdict:
    """The calls' score: steps a (plugin), b (operation) and c (parameters), the percentage, and each pairing."""

    plugin_detected: bool
    operation_found: bool
    parameters_mapped: bool
    parameter_percentage: float | None
    passed: bool
    pairings: tuple[Pairing, ...] = ()

    @property
    def mismatches(self) -> tuple[Mismatch, ...]:
        """Every pairing's mismatches, each parameter prefixed with its expected call: ``calls[1].city``."""
        return tuple(Mismatch(f"calls[{p.expected}].{m.parameter}", m.expected, m.actual, m.reason)
                     for p in self.pairings for m in p.mismatches)


@dataclass(frozen=True, slots=True)
class _Check:
    plugin: bool
    operation: bool
    passed: bool
    matched: int
    mismatches: tuple[Mismatch, ...]


def _check(expected: ExpectedCallSpec, call: Call, *, with_parameters: bool, mode: str, language: str) -> _Check:
    plugin = call.plugin_id is not None and normalise_url(call.plugin_id) == normalise_url(expected.plugin)
    operation = (plugin and call.url is not None and normalise_url(call.url) == normalise_url(expected.api)
                 and (not expected.method or (call.method or "").lower() == expected.method.strip().lower()))
    matched, params_ok = 0, True
    mismatches: tuple[Mismatch, ...] = ()
    if expected.parameters is not None and operation:
        operation_schema = call.operation.parameters if call.operation else None
        locations = call.operation.locations if call.operation else None
        verdict = compare_parameters(expected.parameters, call.arguments if call.decoded else None, mode=mode,
                                     schema=operation_schema, locations=locations, language=language)
        matched, mismatches, params_ok = verdict.matched, verdict.mismatches, verdict.ok and call.decoded
    passed = operation and (params_ok if with_parameters else True)
    return _Check(plugin, operation, passed, matched, mismatches)


def _max_matching(n_expected: int, n_made: int, fits: Callable[[int, int], bool]) -> dict[int, int]:
    """Expected index -> made index, as many pairs as possible (augmenting paths; n is small)."""
    owner: dict[int, int] = {}  # made -> expected

    def augment(i: int, seen: set[int]) -> bool:
        for j in range(n_made):
            if j in seen or not fits(i, j):
                continue
            seen.add(j)
            if j not in owner or augment(owner[j], seen):
                owner[j] = i
                return True
        return False

    for i in range(n_expected):
        augment(i, set())
    return {i: j for j, i in owner.items()}


def _greedy(n_expected: int, n_made: int, fits: Callable[[int, int], bool]) -> dict[int, int]:
    """BFCL's pairing: each expected call in order takes the first unpaired call that passes."""
    pairs: dict[int, int] = {}
    for i in range(n_expected):
        j = next((j for j in range(n_made) if j not in pairs.values() and fits(i, j)), None)
        if j is None:
            break  # BFCL stops at the first expected call nothing passes
        pairs[i] = j
    return pairs


def score_calls(
    expected: Sequence[ExpectedCallSpec],
    calls: Sequence[Call],
    *,
    test_type: str,
    mode: str = "lenient",
    call_order: str = "any",
    expect_no_call: bool = False,
    expect_any_call: bool = False,
    language: str = "python",
    coverage: str = "exact",
) -> CallsVerdict:
    """Score every call made against the expectation; see the module docstring for the steps.

    ``coverage`` (a conversation turn's ``trajectory_match``): ``exact``, every expected call made and
    nothing else; ``superset``, every expected call made, extra calls allowed; ``subset``, every call
    made was expected, missing ones allowed.
    """
    made = [c for c in calls if c.decoded] if (expect_no_call or expect_any_call) else list(calls)
    if expect_no_call or expect_any_call:
        ok = not made if expect_no_call else bool(made)
        return CallsVerdict(ok, ok, ok and test_type == "api_signature_selector", None, ok)
    with_parameters = test_type == "api_signature_selector"
    checks = {(i, j): _check(e, c, with_parameters=with_parameters, mode=mode, language=language)
              for i, e in enumerate(expected) for j, c in enumerate(made)}
    n, m = len(expected), len(made)
    if call_order == "strict":
        order = {i: i for i in range(min(n, m))}
        on = lambda attr: all(getattr(checks[i, j], attr) for i, j in order.items()) and len(order) == n  # noqa: E731
        passed_pairs = {i: j for i, j in order.items() if checks[i, j].passed}
        plugin_ok, operation_ok = on("plugin"), on("operation") and n == m
    else:
        pair = _greedy if mode == "bfcl" and coverage == "exact" else _max_matching
        passed_pairs = pair(n, m, lambda i, j: checks[i, j].passed)
        plugin_ok = len(_max_matching(n, m, lambda i, j: checks[i, j].plugin)) == n
        operation_ok = n == m and len(_max_matching(n, m, lambda i, j: checks[i, j].operation)) == n
    if coverage == "superset":
        passed, operation_ok = len(passed_pairs) == n, plugin_ok and len(
            _max_matching(n, m, lambda i, j: checks[i, j].operation)) == n
    elif coverage == "subset":
        passed = len(passed_pairs) == m
        operation_ok = len(_max_matching(n, m, lambda i, j: checks[i, j].operation)) == m
    else:
        passed = n == m and len(passed_pairs) == n
    pairings = _pairings(n, m, checks, passed_pairs, strict=call_order == "strict")
    total = sum(len(e.parameters) for e in expected if e.parameters is not None)
    matched = sum(checks[p.expected, p.made].matched for p in pairings if p.made is not None)
    percentage = matched / total * 100.0 if total else None
    return CallsVerdict(plugin_ok, operation_ok, passed and with_parameters, percentage, passed, tuple(pairings))


def _pairings(n: int, m: int, checks: dict[tuple[int, int], _Check], passed: dict[int, int], *,
              strict: bool) -> list[Pairing]:
    """The passing pairs, then each other expected call with the nearest unpaired call (same
    operation, else same plugin) so its mismatches say why it failed."""
    taken = set(passed.values())
    out: list[Pairing] = []
    for i in range(n):
        if i in passed:
            out.append(Pairing(i, passed[i], True))
            continue
        if strict:
            j = i if i < m else None
        else:
            free = [j for j in range(m) if j not in taken]
            j = next((j for j in free if checks[i, j].operation), None)
            j = j if j is not None else next((j for j in free if checks[i, j].plugin), None)
        if j is not None:
            taken.add(j)
        out.append(Pairing(i, j, False, checks[i, j].mismatches if j is not None else ()))
    return out
