"""One parameter value checked as BFCL's ``simple_function_checker`` checks it (bfcl mode).

Why a port and not an approximation: ``parameter_matching: bfcl`` promises BFCL's own verdicts, and
BFCL's rules have corners a general comparison does not share (the type of the *first* accepted
answer decides the "variable" rule, ``null`` passes only when an answer lists it, Python's ``==``
makes ``1 == 1.0``, nested types are checked one level deep, Java/JavaScript arguments are strings
converted by the language's converter first). The expectation arrives as permutate matchers
(``testing.bfcl`` makes them from BFCL's answers) and is turned back into BFCL's list of accepted
values here: ``{$one_of: [a, b], $optional: true}`` -> ``[a, b, ""]``, a plain value ``v`` -> ``[v]``.
Logic follows ``bfcl_eval/eval_checker/ast_eval/ast_checker.py`` (bfcl-eval 2026.3.23, Apache-2.0).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .bfcl_languages import (
    JAVA_TYPE_CONVERSION,
    JS_TYPE_CONVERSION,
    NESTED_CONVERSION_TYPE_LIST,
    java_type_converter,
    js_type_converter,
)

__all__ = ["LANGUAGES", "bfcl_answers", "bfcl_check", "bfcl_checkable", "language_type"]

LANGUAGES = ("python", "java", "javascript")
_PYTHON_TYPES: dict[str, type] = {
    "string": str, "integer": int, "float": float, "boolean": bool, "array": list, "tuple": list, "dict": dict,
    "any": str,
}
_FROM_JSON = {"string": "string", "integer": "integer", "number": "float", "boolean": "boolean",
              "array": "array", "object": "dict"}
_JAVA_FROM_JSON = {"string": "String", "integer": "integer", "number": "double", "boolean": "boolean",
                   "array": "ArrayList", "object": "HashMap"}
_JS_FROM_JSON = {"string": "String", "integer": "integer", "number": "float", "boolean": "Boolean",
                 "array": "array", "object": "dict"}
_STRIP = re.compile(r"[ \,\.\/\-\_\*\^]")
_NON_BFCL = ("$any", "$regex", "$approx")
#: The schema keyword holding a parameter's type in the function's own language (Java ``ArrayList``,
#: JavaScript ``Bigint``); ``testing.bfcl`` writes it, any OpenAPI document may.
LANGUAGE_TYPE_KEY = "x-language-type"
LANGUAGE_ITEMS_KEY = "x-language-items"  # the element type of a Java/JavaScript array passed as a string


def bfcl_checkable(expected: Any) -> bool:
    """Whether an expectation is expressible as BFCL answers (no ``$any``/``$regex``/``$approx``)."""
    if isinstance(expected, Mapping):
        if any(k in expected for k in _NON_BFCL):
            return False
        return all(bfcl_checkable(v) for v in expected.values())
    if isinstance(expected, list):
        return all(bfcl_checkable(v) for v in expected)
    return True


def _is_matcher(value: Any) -> bool:
    return isinstance(value, Mapping) and bool(value) and all(isinstance(k, str) and k.startswith("$") for k in value)


def bfcl_answers(expected: Any) -> list[Any]:
    """BFCL's accepted values for one parameter (``""``: may be left out)."""
    if _is_matcher(expected):
        options = [_answer_value(v) for v in expected.get("$one_of", [])]
        return options + ([""] if expected.get("$optional") else [])
    return [_answer_value(expected)]


def _answer_value(value: Any) -> Any:
    """Inside an accepted dict each key again maps to its accepted values (BFCL's ``dict_checker``)."""
    if isinstance(value, Mapping) and not _is_matcher(value):
        return {k: bfcl_answers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_answer_value(v) if isinstance(v, Mapping) else v for v in value]
    return value


def language_type(schema: Any, language: str) -> str | None:
    """The parameter's BFCL type name for ``language``: the schema's ``x-language-type``, else one
    derived from its JSON type (Python: ``number`` -> ``float``; Java: ``array`` -> ``ArrayList``)."""
    if not isinstance(schema, Mapping):
        return None
    named = schema.get(LANGUAGE_TYPE_KEY)
    if isinstance(named, str):
        return named
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    table = {"java": _JAVA_FROM_JSON, "javascript": _JS_FROM_JSON}.get(language, _FROM_JSON)
    return table.get(kind) if isinstance(kind, str) else None


def bfcl_check(schema: Any, expected: Any, value: Any, language: str = "python") -> str | None:
    """None when BFCL accepts ``value`` for this parameter, else the reason: ``type`` or ``value``."""
    answers = bfcl_answers(expected)
    declared = language_type(schema, language)
    if declared is None:  # no declared type: BFCL would not run; compare with the answer's own type
        declared = {str: "string", int: "integer", float: "float", bool: "boolean", list: "array",
                    dict: "dict"}.get(type(next((a for a in answers if a != ""), "")), "string")
    items = schema.get("items") if isinstance(schema, Mapping) else None
    nested_name = schema.get(LANGUAGE_ITEMS_KEY) if isinstance(schema, Mapping) else None
    if not isinstance(nested_name, str):
        nested_name = language_type(items, language) if isinstance(items, Mapping) else None
    nested: type | None = None
    if language == "java":
        if declared not in JAVA_TYPE_CONVERSION:
            return "type"
        wanted = JAVA_TYPE_CONVERSION[declared]
        if not isinstance(value, str):
            return "type"
        try:
            if declared in NESTED_CONVERSION_TYPE_LIST:
                nested = JAVA_TYPE_CONVERSION.get(nested_name or "String")
                value = java_type_converter(value, declared, nested_name or "String")
            else:
                value = java_type_converter(value, declared)
        except (NotImplementedError, ValueError, KeyError):
            return "type"
    elif language == "javascript":
        if declared not in JS_TYPE_CONVERSION:
            return "type"
        wanted = JS_TYPE_CONVERSION[declared]
        if not isinstance(value, str):
            return "type"
        try:
            if declared in NESTED_CONVERSION_TYPE_LIST:
                nested = JS_TYPE_CONVERSION.get(nested_name or "String")
                value = js_type_converter(value, declared, nested_name or "String")
            else:
                value = js_type_converter(value, declared)
        except (NotImplementedError, ValueError, KeyError):
            return "type"
    else:
        wanted = _PYTHON_TYPES.get(declared, str)
        if declared in ("array", "tuple"):
            nested = _PYTHON_TYPES.get(nested_name) if nested_name else None
        if declared == "float" and type(value) is int:
            value = float(value)  # BFCL: Python's auto conversion from int to float
    valid, is_variable = _type_checker(value, answers, wanted, nested)
    if not valid:
        return "type"
    if not is_variable:
        if wanted is dict:
            return None if _dict_checker(value, answers) else "value"
        if wanted is list and nested is dict:
            return None if _list_dict_checker(value, answers) else "value"
        if wanted is str:
            return None if _string_checker(value, answers) else "value"
        if wanted is list:
            return None if _list_checker(value, answers) else "value"
    return None if _contains(answers, value) else "value"


def _contains(answers: list[Any], value: Any) -> bool:
    try:
        return value in answers
    except Exception:  # noqa: BLE001 - an odd value BFCL would crash on is not accepted
        return False


def _answer_type(answers: list[Any]) -> type | None:
    for answer in answers:
        if answer != "":
            return type(answer)
    return None


def _type_checker(value: Any, answers: list[Any], wanted: type[Any], nested: type[Any] | None) -> tuple[bool, bool]:
    """BFCL's ``type_checker``: (valid, is_variable)."""
    answer_type = _answer_type(answers)
    is_variable = answer_type is not None and answer_type != wanted
    if type(value) is wanted:
        if nested is None:
            return True, is_variable
        for answer in answers:
            flag = True
            if type(answer) is list:
                for item in value:
                    ok, _ = _type_checker(item, answer, nested, None)
                    if not ok:
                        flag = False
                        break
            if flag:
                return True, is_variable
    if answer_type is not None and type(value) is answer_type:
        return True, True
    return False, is_variable


def standardize(text: str) -> str:
    return _STRIP.sub("", text).lower().replace("'", '"')


def _string_checker(value: str, answers: list[Any]) -> bool:
    return standardize(value) in [standardize(a) for a in answers if type(a) is str]


def _list_checker(value: list[Any], answers: list[Any]) -> bool:
    got = [standardize(v) if type(v) is str else v for v in value]
    wanted = []
    for answer in answers:
        try:
            wanted.append([standardize(a) if type(a) is str else a for a in answer])
        except TypeError:  # BFCL iterates each answer; a non-iterable one would crash it
            continue
    return _contains(wanted, got)


def _dict_checker(value: Mapping[str, Any], answers: list[Any]) -> bool:
    for answer in answers:
        if answer == "":
            continue
        if not isinstance(answer, Mapping):
            continue
        ok = True
        for key, item in value.items():
            if key not in answer:
                ok = False
                break
            got = standardize(item) if type(item) is str else item
            wanted = [standardize(a) if type(a) is str else a for a in answer[key]]
            if not _contains(wanted, got):
                ok = False
                break
        if ok:
            for key, accepted in answer.items():
                if key not in value and "" not in accepted:
                    ok = False
                    break
        if ok:
            return True
    return False


def _list_dict_checker(value: list[Any], answers: list[Any]) -> bool:
    for answer in answers:
        if not isinstance(answer, (list, str)) or len(value) != len(answer):
            continue  # BFCL compares lengths, so [] matches the "" (may be left out) answer
        if all(isinstance(item, Mapping) and _dict_checker(item, [want]) for item, want in zip(value, answer)):
            return True
    return False
