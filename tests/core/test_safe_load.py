"""The bounded loader: ordinary YAML loads as before; bombs, deep nesting and repeated keys do not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from permutate_nb.core.request.safe_load import MAX_DEPTH, SAFE_LOADER, load_json, load_yaml
from permutate_nb.errors import RequestError
from tests.helpers import peak_mib


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
    def load() -> None:
        with pytest.raises(RequestError, match=message):
            load_yaml(text, "x.yaml")

    assert peak_mib(load) < 5  # refused before building anything: the bomb would be 10^7 nodes


def test_the_same_key_in_different_mappings_is_fine() -> None:
    assert load_yaml("a: {name: 1}\nb: {name: 2}\n", "x.yaml") == {"a": {"name": 1}, "b": {"name": 2}}


# ------------------------------------------------------------------ the one-pass builder is PyYAML's load

_SAMPLES = [
    "a: 1\nb: 1.5\nc: .inf\nd: -.Inf\ne: .nan\nf: 0o17\ng: 0x1F\nh: 1_000\ni: yes\nj: No\nk: ~\nl: null\nm:\n"
    "n: ''\no: '1'\np: \"true\"\nq: 1e3\nr: +12\ns: -0\nt: '  spaced  '\nu: |\n  block\n  text\nv: >\n  folded\n",
    "when: 2001-12-14t21:59:43.10-05:00\nday: 2002-12-14\n",
    "bin: !!binary aGVsbG8=\ns: !!str 123\ni: !!int '7'\nf: !!float '1'\nn: !!null ''\n",
    "- &x {a: 1}\n- *x\n- &y hello\n- *y\n- &z 5\n- *z\n",
    "{1: a, 2.5: b, true: c, null: d, 2002-12-14: e}\n",
    "[1, [2, [3, {x: y, z: [~, '', \"\"]}]]]\n",
    "plain text\n", "", "# a comment only\n", "[]\n", "{}\n", "---\n- a\n...\n",
    # left to PyYAML's own constructor: merge keys, tagged collections, complex keys, several documents
    "base: &b {m: 1, t: 0}\nfast: {<<: *b, t: 1}\n", "!!set {a, b}\n", "!!omap [a: 1, b: 2]\n",
    "? [a, b]\n: complex\n", "--- 1\n--- 2\n", "a: !custom x\n", "a: *nowhere\n",
]


def _outcome(load: Any) -> str:
    """What a load gave: the repr of its data (types and NaN compare), or that it was refused."""
    try:
        return repr(load())
    except (yaml.YAMLError, RequestError):
        return "refused"


@pytest.mark.parametrize("text", _SAMPLES)
def test_the_one_pass_load_gives_what_pyyaml_gives(text: str) -> None:
    assert _outcome(lambda: load_yaml(text, "x.yaml")) == _outcome(lambda: yaml.load(text, Loader=SAFE_LOADER))


def test_every_yaml_file_we_know_loads_as_pyyaml_loads_it() -> None:
    """The project's YAML files, the real-world plugin documents under tests/data among them."""
    root = Path(__file__).resolve().parents[2]
    files = [p for base in (root / "permutate_nb", root / "tests", root / "notebooks")
             for pattern in ("*.yaml", "*.yml") for p in base.rglob(pattern)]
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert _outcome(lambda: load_yaml(text, str(path))) == _outcome(lambda: yaml.load(text, Loader=SAFE_LOADER)), path


def test_errors_still_name_line_and_column() -> None:
    with pytest.raises(RequestError, match=r"x.yaml: invalid YAML at line 2, column \d+: found undefined alias"):
        load_yaml("a: 1\nb: *nowhere\n", "x.yaml")
    with pytest.raises(RequestError, match=r"x.yaml: invalid YAML at line 2, column \d+"):
        load_yaml("a: [1, 2\nb: 3\n", "x.yaml")
