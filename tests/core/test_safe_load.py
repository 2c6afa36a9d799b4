"""The bounded loader: ordinary YAML loads as before; bombs, deep nesting and repeated keys do not."""

from __future__ import annotations

import time

import pytest

from permutate_nb.core.safe_load import MAX_DEPTH, load_json, load_yaml
from permutate_nb.errors import RequestError


def test_ordinary_aliases_and_merge_keys_still_load() -> None:
    text = "base: &b {model: m, temperature: 0}\nfast: {<<: *b, temperature: 1}\nboth: [*b, *b]\n"
    assert load_yaml(text, "m.yaml") == {"base": {"model": "m", "temperature": 0},
                                        "fast": {"model": "m", "temperature": 1},
                                        "both": [{"model": "m", "temperature": 0}] * 2}


def test_nesting_up_to_the_limit_loads() -> None:
    assert load_yaml("[" * MAX_DEPTH + "]" * MAX_DEPTH, "ok.yaml") is not None
    assert load_json("[" * MAX_DEPTH + "]" * MAX_DEPTH, "ok.json") is not None
    with pytest.raises(RequestError, match="deep.yaml, line 1: nested deeper than"):
        load_yaml("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "deep.yaml")


@pytest.mark.parametrize(("text", "message"), [
    ("a: &a [*a]\n", "line 1: alias \\*a refers to a node that contains it"),
    ("a: 1\nb:\n  c: 2\n  c: 3\n", "line 4: duplicate key 'c' \\(first at line 3\\)"),
    ("a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for p, c in zip("abcdef", "bcdefg")), "expands to more than"),
])
def test_refused_at_once(text: str, message: str) -> None:
    started = time.perf_counter()
    with pytest.raises(RequestError, match=message):
        load_yaml(text, "x.yaml")
    assert time.perf_counter() - started < 1.0


def test_the_same_key_in_different_mappings_is_fine() -> None:
    assert load_yaml("a: {name: 1}\nb: {name: 2}\n", "x.yaml") == {"a": {"name": 1}, "b": {"name": 2}}
