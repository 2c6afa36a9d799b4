"""Step c's comparison rules (design guide, "Scoring semantics"; README scoring table)."""

from __future__ import annotations

from typing import Any

import pytest

from permutate_nb.core.scoring.matching import compare_parameters, matcher_problems

SCHEMA = {
    "type": "object",
    "properties": {
        "zip": {"type": "string"},
        "page": {"type": "integer"},
        "count": {"type": "integer"},
        "price": {"type": "number"},
        "name": {"type": "string"},
        "gift": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "filter": {"type": "object", "properties": {"color": {"type": "string"}, "size": {"type": "integer"}}},
        "unit": {"type": "string"},
        "ts": {"type": "integer"},
    },
    "required": ["zip"],
}
LOCATIONS = {"zip": "query", "page": "query", "count": "body", "price": "body", "name": "body", "gift": "body",
             "tags": "body", "filter": "body", "unit": "body", "ts": "body"}


def verdict(expected: dict[str, Any], actual: dict[str, Any] | None, mode: str = "lenient"):
    return compare_parameters(expected, actual, mode=mode, schema=SCHEMA, locations=LOCATIONS)


def reasons(expected: dict[str, Any], actual: dict[str, Any] | None, mode: str = "lenient") -> list[str]:
    return [m.reason for m in verdict(expected, actual, mode).mismatches]


@pytest.mark.parametrize("expected, actual", [
    ({"page": 5}, {"page": "5"}),            # query: the same on the wire
    ({"zip": "02134"}, {"zip": "02134"}),
    ({"count": 10}, {"count": 10.0}),        # 10.0 is the integer 10
    ({"price": 0.1 + 0.2}, {"price": 0.3}),  # 1e-9 relative for non-integral numbers
    ({"name": "New  York "}, {"name": "new york"}),
    ({"gift": True}, {"gift": "true"}),      # boolean schema: "true" is true
    ({"tags": ["a", "B"]}, {"tags": ["A", "b"]}),
    ({"filter": {"color": "red"}}, {"filter": {"color": "Red", "size": 3}}),  # lenient: extra keys ignored
])
def test_schema_aware_lenient_matches(expected: dict, actual: dict) -> None:
    assert verdict(expected, actual).ok


@pytest.mark.parametrize("expected, actual, reason", [
    ({"zip": "02134"}, {"zip": 2134}, "value"),          # query: "2134" is not "02134" on the wire
    ({"ts": 1700000000}, {"ts": 1700000001}, "value"),   # integers exactly
    ({"count": 1234567890}, {"count": 1234567891}, "value"),
    ({"count": 10}, {"count": 10.5}, "type"),
    ({"name": "no"}, {"name": False}, "type"),            # a string parameter is no boolean
    ({"gift": False}, {"gift": "no"}, "type"),
    ({"tags": ["a", "b"]}, {"tags": ["b", "a"]}, "value"),
    ({"filter": {"color": "red"}}, {"filter": {"size": 3}}, "missing"),
    ({"price": 1.1}, {"price": "1.10x"}, "type"),
])
def test_schema_aware_lenient_mismatches(expected: dict, actual: dict, reason: str) -> None:
    assert reasons(expected, actual) == [reason]


def test_mismatch_rows_name_the_parameter_path() -> None:
    found = verdict({"filter": {"color": "red"}, "page": 2}, {"filter": {"color": "blue"}, "page": 2}).mismatches
    assert [m.to_dict() for m in found] == [
        {"parameter": "filter.color", "expected": "red", "actual": "blue", "reason": "value"}]


def test_strict_mode() -> None:
    assert reasons({"count": 10}, {"count": "10"}, "strict") == ["type"]
    assert reasons({"page": 5}, {"page": "5"}, "strict") == ["type"]
    assert reasons({"name": "New York"}, {"name": "new york"}, "strict") == ["value"]
    assert reasons({"name": "New York"}, {"name": " New York "}, "strict") == []
    assert reasons({"name": "a"}, {"name": "a", "unit": "cm"}, "strict") == ["unexpected"]
    assert reasons({"name": "a", "unit": {"$optional": True}}, {"name": "a", "unit": "cm"}, "strict") == []
    assert reasons({"filter": {"color": "red"}}, {"filter": {"color": "red", "size": 3}}, "strict") == ["unexpected"]
    assert reasons({"name": "a"}, {"name": "a", "unit": "cm"}, "lenient") == []


def test_bfcl_mode() -> None:
    def bfcl(expected: dict, actual: dict) -> list[str]:
        return reasons({"zip": "1", **expected}, {"zip": "1", **actual}, "bfcl")

    assert bfcl({"name": "April 1, 2024"}, {"name": "april 1 2024"}) == []  # spaces and ,./-_*^ removed
    assert bfcl({"price": 3.0}, {"price": 3}) == []     # an int is accepted for a float parameter
    assert bfcl({"count": 3}, {"count": 3.0}) == ["type"]
    assert bfcl({"count": 3}, {"count": True}) == ["type"]
    assert bfcl({"name": "a"}, {"name": "a", "gift": True}) == ["unexpected"]
    assert bfcl({"name": "a", "unit": {"$one_of": ["cm"], "$optional": True}}, {"name": "a"}) == []
    assert bfcl({"name": "a", "unit": "cm"}, {"name": "a"}) == ["missing"]
    # a parameter the schema requires is missing even when the expectation calls it optional, as in BFCL
    assert reasons({"name": "a", "zip": {"$optional": True}}, {"name": "a"}, "bfcl") == ["missing"]


@pytest.mark.parametrize("expected, actual, ok", [
    ({"unit": {"$one_of": ["inches", "in"]}}, {"unit": "in"}, True),
    ({"unit": {"$one_of": ["inches", "in"]}}, {"unit": "cm"}, False),
    ({"unit": {"$optional": True}}, {}, True),
    ({"unit": {"$optional": True}}, {"unit": "anything"}, True),
    ({"unit": {"$one_of": ["in"], "$optional": True}}, {}, True),
    ({"unit": {"$one_of": ["in"], "$optional": True}}, {"unit": "cm"}, False),
    ({"unit": {"$one_of": [], "$optional": True}}, {}, True),
    ({"unit": {"$one_of": [], "$optional": True}}, {"unit": "in"}, False),
    ({"unit": {"$any": True}}, {"unit": 7}, True),
    ({"unit": {"$any": True}}, {}, False),
    ({"name": {"$regex": "SKU-\\d+"}}, {"name": "SKU-123"}, True),
    ({"name": {"$regex": "SKU-\\d+"}}, {"name": "SKU-123x"}, False),  # a full match
    ({"price": {"$approx": 3.14, "$tol": 0.01}}, {"price": 3.1415}, True),
    ({"price": {"$approx": 3.14, "$tol": 0.01}}, {"price": 3.2}, False),
    ({"filter": {"color": {"$one_of": ["red", "crimson"]}, "size": {"$optional": True}}}, {"filter": {"color": "Crimson"}}, True),
    ({"tags": [{"$regex": "a.*"}, "b"]}, {"tags": ["abc", "b"]}, True),
])
def test_matchers_at_any_depth(expected: dict, actual: dict, ok: bool) -> None:
    assert verdict(expected, actual).ok is ok


def test_an_omitted_optional_parameter_counts_as_matched() -> None:
    v = verdict({"name": "a", "unit": {"$optional": True}}, {"name": "a"})
    assert (v.matched, v.total, v.percentage) == (2, 2, 100.0)


def test_unknown_matcher_keys_name_their_path() -> None:
    problems = list(matcher_problems({"b": [{"$one_off": [1]}]}, "filter"))
    assert problems == ["filter.b[0].$one_off: unknown matcher (use $any, $approx, $one_of, $optional, $regex, $tol)"]
    assert list(matcher_problems({"$regex": "("}, "name"))[0].startswith("name.$regex: invalid regular expression")
    assert list(matcher_problems({"$approx": 1, "$tol": 0.1, "$optional": True}, "x")) == []


def test_null_is_a_value_in_every_mode() -> None:
    for mode in ("lenient", "strict"):
        assert reasons({"zip": "1", "unit": None}, {"zip": "1", "unit": None}, mode) == []
        assert reasons({"zip": "1", "unit": "cm"}, {"zip": "1", "unit": None}, mode) == ["type"]
    # bfcl: BFCL's optional-parameter rule: null passes when an answer lists null, not when "" alone does
    assert reasons({"zip": "1", "unit": {"$one_of": [None], "$optional": True}}, {"zip": "1", "unit": None}, "bfcl") == []
    assert reasons({"zip": "1", "unit": {"$optional": True}}, {"zip": "1", "unit": None}, "bfcl") == ["type"]
    assert reasons({"zip": "1", "unit": {"$one_of": ["cm", None]}}, {"zip": "1", "unit": None}, "bfcl") == ["type"]


def test_bfcl_mode_refuses_a_parameter_the_function_does_not_declare() -> None:
    assert reasons({"zip": "1", "color": "red"}, {"zip": "1", "color": "red"}, "bfcl") == ["unexpected"]
    assert reasons({"zip": "1", "color": "red"}, {"zip": "1", "color": "red"}, "lenient") == []


def _one(schema: dict[str, Any], expected: Any, actual: Any, language: str) -> list[str]:
    full = {"type": "object", "properties": {"p": schema}, "required": ["p"]}
    found = compare_parameters({"p": expected}, {"p": actual}, mode="bfcl", schema=full, language=language)
    return [m.reason for m in found.mismatches]


@pytest.mark.parametrize("language, schema, expected, actual, ok", [
    ("java", {"type": "string", "x-language-type": "ArrayList", "x-language-items": "integer"}, [1, 2],
     "new ArrayList<>(Arrays.asList(1, 2))", True),
    ("java", {"type": "string", "x-language-type": "ArrayList", "x-language-items": "String"}, ["a", "b"],
     'new ArrayList<String>() {{ add("a"); add("b"); }}', True),
    ("java", {"type": "string", "x-language-type": "boolean"}, True, "true", True),
    ("java", {"type": "string", "x-language-type": "boolean"}, True, "True", False),   # Java has no True
    ("java", {"type": "string", "x-language-type": "boolean"}, True, True, False),     # not a string
    ("java", {"type": "string", "x-language-type": "double"}, 4.0, "4", True),
    ("java", {"type": "string", "x-language-type": "long"}, 5, "5L", True),
    ("java", {"type": "string", "x-language-type": "HashMap"}, {"k": "v"}, 'new HashMap<String, String>() {{ put("k", "v"); }}', True),
    ("javascript", {"type": "string", "x-language-type": "String"}, "abc", "'abc'", True),  # quotes are the literal's
    ("javascript", {"type": "string", "x-language-type": "Boolean"}, True, "True", False),
    ("javascript", {"type": "string", "x-language-type": "array", "x-language-items": "String"}, ["a", "b"], "['a', 'b']", True),
    ("javascript", {"type": "integer"}, 3, "3", True),   # no x-language-type: taken from the JSON type
    ("python", {"type": "string"}, "abc", "'abc'", False),
])
def test_bfcl_mode_reads_java_and_javascript_literals(language: str, schema: dict, expected: Any, actual: Any, ok: bool) -> None:
    assert (_one(schema, expected, actual, language) == []) is ok
