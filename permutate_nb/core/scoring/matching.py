"""Step c's parameter comparison: schema-aware, with matchers and three modes.

The design guide ("Scoring semantics") fixes the rules; docs/concepts/verdict-modes.md's table gives an
example of each. Values compare the way the operation receives them: query/path/header/cookie
(and form) values as serialised on the wire, body values by their JSON Schema type. Every
comparison that fails is written down as a ``Mismatch`` so a reader sees *why* step c failed.

``bfcl`` mode follows the Berkeley Function Calling Leaderboard's ``ast_checker`` for one call
(its string normalisation and type rules); tests/core/test_bfcl_conformance.py holds us to it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .bfcl_check import bfcl_check, bfcl_checkable
from .regex_limits import RegexTimeout, compile_pattern, full_match, regex_error

__all__ = [
    "REASONS",
    "RegexTimeout",
    "MATCHER_KEYS",
    "Mismatch",
    "ParameterVerdict",
    "compare_parameters",
    "describe_mismatches",
    "fits_type",
    "is_matcher",
    "matcher_problems",
    "schema_type",
]

Mode = Literal["lenient", "strict", "bfcl"]
MATCHER_KEYS = frozenset({"$one_of", "$optional", "$any", "$regex", "$approx", "$tol"})
WIRE_LOCATIONS = frozenset({"query", "path", "header", "cookie", "form"})
REASONS = ("missing", "unexpected", "type", "value")

_SPACES = re.compile(r"\s+")
_BFCL_STRIP = re.compile(r"[ ,./\-_*^]")
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_REL_TOL = 1e-9
_DEFAULT_TOL = 1e-9
_ABSENT = object()
_LOOSE = {"$loose": True}  # bfcl: values inside objects compare without type checks, as BFCL's dict_checker


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One failed comparison: the parameter's path, both values, and why."""

    parameter: str
    expected: Any
    actual: Any
    reason: str  # one of REASONS

    def to_dict(self) -> dict[str, Any]:
        """The mismatch as a row's ``parameter_mismatches`` item."""
        return {"parameter": self.parameter, "expected": self.expected, "actual": self.actual, "reason": self.reason}


def describe_mismatches(mismatches: list[dict[str, Any]] | None) -> str:
    """A row's ``parameter_mismatches`` in one line, for sheets and tables:
    ``size: missing (expected 5); q: value (expected 'shirt', got 'hat')``."""
    parts = []
    for m in mismatches or ():
        if m["reason"] == "missing":
            detail = f"expected {m['expected']!r}" if m["expected"] is not None else "required"
        elif m["reason"] == "unexpected":
            detail = f"got {m['actual']!r}"
        else:
            detail = f"expected {m['expected']!r}, got {m['actual']!r}"
        parts.append(f"{m['parameter']}: {m['reason']} ({detail})")
    return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class ParameterVerdict:
    """How an answer's parameters compared: matched out of expected, and each mismatch."""

    matched: int  # expected parameters matched (an omitted optional one counts as matched)
    total: int
    mismatches: tuple[Mismatch, ...]

    @property
    def ok(self) -> bool:
        """True when every expected parameter matched and no unexpected one came."""
        return not self.mismatches

    @property
    def percentage(self) -> float | None:
        """Matched / expected x 100; None when nothing was expected."""
        return self.matched / self.total * 100.0 if self.total else None


# --------------------------------------------------------------------------- matchers

def is_matcher(value: Any) -> bool:
    """An object whose keys all start with ``$``."""
    return isinstance(value, Mapping) and bool(value) and all(isinstance(k, str) and k.startswith("$") for k in value)


def _optional(expected: Any) -> bool:
    return is_matcher(expected) and expected.get("$optional") is True


def matcher_problems(value: Any, path: str) -> Iterator[str]:
    """Why an expected value's matchers are malformed, one message per problem, naming the path."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from matcher_problems(item, f"{path}[{i}]")
        return
    if not isinstance(value, Mapping):
        return
    if not is_matcher(value):
        for key, item in value.items():
            if isinstance(key, str) and key.startswith("$"):
                yield (f"{path}.{key}: a matcher key cannot sit beside plain keys "
                       "(an object is a matcher when all its keys start with $)")
            yield from matcher_problems(item, f"{path}.{key}")
        return
    for key in value:
        if key not in MATCHER_KEYS:
            yield f"{path}.{key}: unknown matcher (use {', '.join(sorted(MATCHER_KEYS))})"
    if "$one_of" in value:
        if not isinstance(value["$one_of"], list):
            yield f"{path}.$one_of: must be a list of values"
        else:
            yield from matcher_problems(value["$one_of"], f"{path}.$one_of")
    for flag in ("$optional", "$any"):
        if flag in value and not isinstance(value[flag], bool):
            yield f"{path}.{flag}: must be true or false"
    if "$regex" in value:
        try:
            compile_pattern(value["$regex"]) if isinstance(value["$regex"], str) else None
        except regex_error as exc:
            yield f"{path}.$regex: invalid regular expression ({exc})"
        if not isinstance(value["$regex"], str):
            yield f"{path}.$regex: must be a string"
    for key in ("$approx", "$tol"):
        if key in value and (isinstance(value[key], bool) or not isinstance(value[key], (int, float))):
            yield f"{path}.{key}: must be a number"
    if "$tol" in value and "$approx" not in value:
        yield f"{path}.$tol: only goes with $approx"
    if sum(k in value for k in ("$one_of", "$any", "$regex", "$approx")) > 1:
        yield f"{path}: use one of $one_of, $any, $regex, $approx (with $optional if it may be left out)"


# --------------------------------------------------------------------------- helpers

def schema_type(schema: Any) -> str | None:
    """The schema's JSON type (the first non-null one of a list); None when it does not say."""
    if not isinstance(schema, Mapping):
        return None
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return kind if isinstance(kind, str) else None


def _value_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, Mapping) else "unknown"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _wire(value: Any) -> str:
    """A scalar as it travels in a query string, path or header."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return str(value)


def _norm_text(value: str) -> str:
    return _SPACES.sub(" ", value.strip()).casefold()


def _numbers_equal(a: float, b: float) -> bool:
    if float(a).is_integer() and float(b).is_integer():
        return int(a) == int(b)
    return math.isclose(a, b, rel_tol=_REL_TOL, abs_tol=0.0)


def _parse_number(text: str) -> float | int | None:
    text = text.strip()
    if not _JSON_NUMBER.fullmatch(text):
        return None
    number = json.loads(text)
    return number if math.isfinite(number) else None


def _lenient_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _children(schema: Any, key: str) -> Any:
    if not isinstance(schema, Mapping):
        return None
    props = schema.get("properties")
    if isinstance(props, Mapping) and key in props:
        return props[key]
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, Mapping) else None


def _items(schema: Any) -> Any:
    items = schema.get("items") if isinstance(schema, Mapping) else None
    return items if isinstance(items, Mapping) else None


# --------------------------------------------------------------------------- comparison

class _Comparer:
    """One mode's comparison; ``compare`` returns None on a match, else the first Mismatch."""

    def __init__(self, mode: Mode) -> None:
        self.mode = mode

    def compare(self, path: str, expected: Any, actual: Any, schema: Any, wire: bool) -> Mismatch | None:
        if is_matcher(expected):
            return self._matcher(path, expected, actual, schema, wire)
        reason = self._reason(path, expected, actual, schema, wire)
        if isinstance(reason, Mismatch):
            return reason
        return Mismatch(path, expected, actual, reason) if reason else None

    def _matcher(self, path: str, m: Mapping[str, Any], actual: Any, schema: Any, wire: bool) -> Mismatch | None:
        if "$one_of" in m:
            if not m["$one_of"]:
                return Mismatch(path, m, actual, "unexpected")  # {$one_of: [], $optional: true}: must be left out
            misses = [self.compare(path, option, actual, schema, wire) for option in m["$one_of"]]
            if all(misses):
                reason = "type" if all(x.reason == "type" for x in misses if x) else "value"
                return Mismatch(path, m, actual, reason)
            return None
        if "$regex" in m:
            text = actual if isinstance(actual, str) else _wire(actual)
            ok = not isinstance(actual, (list, Mapping)) and full_match(m["$regex"], text)
            return None if ok else Mismatch(path, m, actual, "value")
        if "$approx" in m:
            number = actual if _is_number(actual) else None
            if number is None and isinstance(actual, str) and self.mode == "lenient":
                number = _parse_number(actual)
            if number is None:
                return Mismatch(path, m, actual, "type")
            ok = abs(number - m["$approx"]) <= float(m.get("$tol", _DEFAULT_TOL))
            return None if ok else Mismatch(path, m, actual, "value")
        return None  # $any: true, or $optional alone: present with any value

    # -- plain values -----------------------------------------------------------------
    def _reason(self, path: str, expected: Any, actual: Any, schema: Any, wire: bool) -> str | Mismatch | None:
        kind = schema_type(schema)
        if self.mode == "bfcl":
            return self._bfcl(path, expected, actual, schema, kind)
        if expected is None and actual is None:
            return None  # null is a value: it equals an expected null, whatever the schema's type
        if isinstance(expected, list) or kind == "array":
            return self._array(path, expected, actual, schema, wire)
        if isinstance(expected, Mapping) or kind == "object":
            return self._object(path, expected, actual, schema, wire)
        if kind is None:
            return self._untyped(expected, actual, wire)
        if self.mode == "strict" and not _has_type(actual, kind):
            return "type"
        if wire:
            return self._text(_wire(expected), _wire(actual))
        if kind in ("integer", "number"):
            return self._number(expected, actual, kind)
        if kind == "boolean":
            want, got = _lenient_bool(expected), _lenient_bool(actual)
            return "type" if got is None else (None if want == got else "value")
        if kind == "string":
            if _is_number(actual) and self.mode == "lenient":
                return self._text(_wire(expected), _wire(actual))
            return self._text(expected, actual) if isinstance(actual, str) else "type"
        if kind == "null":
            return None if actual is None else "type"
        return self._untyped(expected, actual, wire)

    def _text(self, expected: Any, actual: Any) -> str | None:
        if not isinstance(expected, str):
            expected = _wire(expected)
        if self.mode == "strict":
            return None if expected.strip() == actual.strip() else "value"
        return None if _norm_text(expected) == _norm_text(actual) else "value"

    def _number(self, expected: Any, actual: Any, kind: str) -> str | None:
        got = actual if _is_number(actual) else (_parse_number(actual) if isinstance(actual, str) else None)
        want = expected if _is_number(expected) else (_parse_number(expected) if isinstance(expected, str) else None)
        if got is None or (kind == "integer" and not float(got).is_integer()):
            return "type"
        if want is None:
            return "value"
        return None if _numbers_equal(want, got) else "value"

    def _untyped(self, expected: Any, actual: Any, wire: bool) -> str | None:
        """No schema: equal JSON types compare by value; a string equals a number or boolean
        only when it is that value's exact text (``"3" == 3``, ``"true" == True``)."""
        if expected is None or actual is None:
            return None if expected is actual else "type"
        e_kind, a_kind = _value_type(expected), _value_type(actual)
        numeric = {"integer", "number"}
        if wire:
            return self._text(_wire(expected), _wire(actual))
        if e_kind in numeric and a_kind in numeric:
            return None if _numbers_equal(expected, actual) else "value"
        if e_kind == a_kind == "boolean":
            return None if expected == actual else "value"
        if e_kind == a_kind == "string":
            return self._text(expected, actual)
        if self.mode == "lenient" and "string" in (e_kind, a_kind) and {e_kind, a_kind} <= numeric | {"string", "boolean"}:
            text, other = (expected, actual) if e_kind == "string" else (actual, expected)
            text = text.strip().lower() if isinstance(other, bool) else text.strip()
            return None if text == _wire(other) else "value"
        return "type"

    def _array(self, path: str, expected: Any, actual: Any, schema: Any, wire: bool) -> str | Mismatch | None:
        if not isinstance(actual, list):
            return "type"
        if not isinstance(expected, list):
            return "value"
        if len(expected) != len(actual):
            return "value"
        items = _items(schema)
        for i, (e, a) in enumerate(zip(expected, actual)):
            miss = self.compare(f"{path}[{i}]", e, a, items, wire)
            if miss:
                return miss
        return None

    def _object(self, path: str, expected: Any, actual: Any, schema: Any, wire: bool) -> str | Mismatch | None:
        if not isinstance(actual, Mapping):
            return "type"
        if not isinstance(expected, Mapping):
            return "value"
        for key, e in expected.items():
            if key not in actual:
                if not _optional(e):
                    return Mismatch(f"{path}.{key}", e, None, "missing")
                continue
            child = _LOOSE if self.mode == "bfcl" else _children(schema, key)
            miss = self.compare(f"{path}.{key}", e, actual[key], child, wire)
            if miss:
                return miss
        if self.mode != "lenient":
            extra = next((k for k in actual if k not in expected), None)
            if extra is not None:
                return Mismatch(f"{path}.{extra}", None, actual[extra], "unexpected")
        return None

    # -- bfcl ---------------------------------------------------------------------------
    def _bfcl(self, path: str, expected: Any, actual: Any, schema: Any, kind: str | None) -> str | Mismatch | None:
        """One alternative of BFCL's ``simple_function_checker`` for a parameter value."""
        if schema is _LOOSE:
            return None if _bfcl_norm(expected) == _bfcl_norm(actual) else "value"
        kind = kind or _value_type(expected)
        if kind == "number" and isinstance(actual, int) and not isinstance(actual, bool):
            actual = float(actual)  # BFCL: Python's auto conversion from int to float
        if not _bfcl_type_ok(actual, kind, expected):
            return "type"
        if kind == "array" and isinstance(actual, list):
            items = _items(schema)
            item_kind = schema_type(items)
            first = expected[0] if isinstance(expected, list) and expected else None
            if item_kind and isinstance(expected, list) and not all(_bfcl_type_ok(a, item_kind, first) for a in actual):
                return "type"
            if not isinstance(expected, list) or len(expected) != len(actual):
                return "value"
            for i, (e, a) in enumerate(zip(expected, actual)):
                if isinstance(e, Mapping) or is_matcher(e):
                    miss = self.compare(f"{path}[{i}]", e, a, items, False)
                    if miss:
                        return miss
                elif _bfcl_norm(e) != _bfcl_norm(a):
                    return "value"
            return None
        if kind == "object" and isinstance(actual, Mapping) and isinstance(expected, Mapping):
            return self._object(path, expected, actual, schema, False)
        return None if _bfcl_norm(expected) == _bfcl_norm(actual) else "value"


def _bfcl_norm(value: Any) -> Any:
    """BFCL's ``standardize_string``: lowercase; spaces and ``,./-_*^`` removed; ' -> "."""
    return _BFCL_STRIP.sub("", value).lower().replace("'", '"') if isinstance(value, str) else value


_BFCL_TYPES: dict[str, type] = {
    "string": str, "integer": int, "number": float, "boolean": bool, "array": list, "object": dict,
}


def _bfcl_type_ok(actual: Any, kind: str, expected: Any) -> bool:
    """Python types exactly, as BFCL's ``type_checker`` (so True is no integer); a value of the
    expected answer's own type is accepted too (BFCL's "variable" rule)."""
    wanted = _BFCL_TYPES.get(kind)
    if wanted is None:
        return True
    if type(actual) is wanted or (wanted is dict and isinstance(actual, Mapping)):
        return True
    if is_matcher(expected):
        if not expected.get("$one_of"):
            return False  # no accepted value to take a type from
        expected = expected["$one_of"][0]
    return not is_matcher(expected) and type(actual) is type(expected)  # an expected null accepts null


def _has_type(value: Any, kind: str) -> bool:
    got = _value_type(value)
    return got == kind or (kind == "number" and got == "integer")


def fits_type(expected: Any, schema: Any) -> bool:
    """Whether an expected value (matchers included) can ever be a value of the schema's type;
    ``permutate validate`` warns when it cannot."""
    if is_matcher(expected):
        if _optional(expected):
            return True  # left out, the parameter meets it
        if "$one_of" in expected:
            return not expected["$one_of"] or any(fits_type(option, schema) for option in expected["$one_of"])
        if "$approx" in expected:
            return schema_type(schema) in (None, "integer", "number")
        return True
    kind = schema_type(schema)
    if kind is None:
        return True
    if kind in ("integer", "number"):
        number = expected if _is_number(expected) else (_parse_number(expected) if isinstance(expected, str) else None)
        return number is not None and (kind == "number" or float(number).is_integer())
    if kind == "boolean":
        return _lenient_bool(expected) is not None
    if kind == "string":
        return isinstance(expected, str) or _is_number(expected)
    if kind == "array":
        return isinstance(expected, list) and all(fits_type(item, _items(schema)) for item in expected)
    if kind == "object":
        return isinstance(expected, Mapping) and all(fits_type(v, _children(schema, k)) for k, v in expected.items())
    return kind != "null" or expected is None


# --------------------------------------------------------------------------- parameters

def compare_parameters(
    expected: Mapping[str, Any],
    actual: Mapping[str, Any] | None,
    *,
    mode: str = "lenient",
    schema: Mapping[str, Any] | None = None,
    locations: Mapping[str, str] | None = None,
    language: str = "python",
) -> ParameterVerdict:
    """Compare the model's arguments with the expected parameters of one call.

    ``schema`` is the operation's flat argument schema (``properties``/``required``) and
    ``locations`` says where each argument goes (query, path, header, cookie, form, body).
    ``language`` (``config.function_language``) says how bfcl mode reads argument values.
    """
    comparer = _Comparer(mode)  # type: ignore[arg-type]
    actual = actual or {}
    properties = schema.get("properties") if isinstance(schema, Mapping) else None
    properties = properties if isinstance(properties, Mapping) else {}
    locations = locations or {}
    if mode == "bfcl":
        return _bfcl_parameters(comparer, expected, actual, schema, properties, language)
    mismatches: list[Mismatch] = []
    matched = 0
    for name, want in expected.items():
        got = actual.get(name, _ABSENT)
        if got is _ABSENT:
            if _optional(want):
                matched += 1
            else:
                mismatches.append(Mismatch(name, want, None, "missing"))
            continue
        miss = comparer.compare(name, want, got, properties.get(name), locations.get(name) in WIRE_LOCATIONS)
        if miss:
            mismatches.append(miss)
        else:
            matched += 1
    if mode != "lenient":
        mismatches += [Mismatch(name, None, value, "unexpected") for name, value in actual.items() if name not in expected]
    return ParameterVerdict(matched, len(expected), tuple(mismatches))


def _bfcl_parameters(comparer: _Comparer, expected: Mapping[str, Any], actual: Mapping[str, Any],
                     schema: Mapping[str, Any] | None, properties: Mapping[str, Any], language: str) -> ParameterVerdict:
    """BFCL's ``simple_function_checker`` over one call's arguments: required ones present, none the
    function does not declare or the answer does not list, each value as BFCL checks it."""
    required = _required(schema)
    declared = isinstance(schema, Mapping) and isinstance(schema.get("properties"), Mapping)
    mismatches: list[Mismatch] = []
    matched = 0
    for name, want in expected.items():
        got = actual.get(name, _ABSENT)
        if got is _ABSENT:
            if _optional(want) and name not in required:
                matched += 1
            else:
                mismatches.append(Mismatch(name, want, None, "missing"))
            continue
        if declared and name not in properties:
            continue  # reported below as unexpected: BFCL refuses a parameter the function does not declare
        if bfcl_checkable(want):
            reason = bfcl_check(properties.get(name), want, got, language)
            miss = Mismatch(name, want, got, reason) if reason else None
        else:  # $any / $regex / $approx: not BFCL's, compared as before
            miss = comparer.compare(name, want, got, properties.get(name), False)
        if miss:
            mismatches.append(miss)
        else:
            matched += 1
    mismatches += [Mismatch(name, expected.get(name), value, "unexpected") for name, value in actual.items()
                   if name not in expected or (declared and name not in properties)]
    mismatches += [Mismatch(name, None, None, "missing") for name in required if name not in expected and name not in actual]
    return ParameterVerdict(matched, len(expected), tuple(mismatches))


def _required(schema: Mapping[str, Any] | None) -> list[str]:
    required = schema.get("required") if isinstance(schema, Mapping) else None
    return [r for r in required if isinstance(r, str)] if isinstance(required, list) else []
