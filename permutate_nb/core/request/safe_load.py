"""Reading user files and parsing YAML/JSON with bounds: the one way user input is loaded.

Requests, manifests, OpenAPI documents, datasets, model and URL maps may come from strangers.
A YAML alias bomb under 1 KB expands to billions of nodes, a 100k-deep JSON document
overflows the stack (libyaml's composer even segfaults), and a repeated YAML key silently
wins. So before anything is built, the YAML event stream is walked once (libyaml's parser
keeps no Python stack): nesting depth and the node count with aliases expanded are bounded,
aliases to an unfinished node are refused and duplicate keys are reported with both lines.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from pathlib import Path
from typing import Any

import yaml

from ...errors import RequestError

__all__ = ["MAX_DEPTH", "MAX_NODES", "SAFE_LOADER", "names_a_path", "read_text", "read_csv", "check_yaml", "load_yaml",
           "load_json", "yaml_error", "value_error"]

#: Deepest nesting accepted (real OpenAPI documents stay under 40).
MAX_DEPTH = 200
#: Most nodes a YAML document may expand to, aliases counted each time they are used.
MAX_NODES = 2_000_000

#: libyaml's safe loader when PyYAML was built with it, else the pure-Python one.
SAFE_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def names_a_path(text: str) -> bool:
    """True when ``text`` is the path of something on disk; False for text no path can be (too long)."""
    try:
        return Path(text).expanduser().exists()
    except (OSError, ValueError):
        return False


def read_text(path: str | Path, what: str = "file") -> str:
    """A file's text as UTF-8 (a BOM is dropped); one line naming the file and byte offset otherwise."""
    path = Path(path).expanduser()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RequestError(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise RequestError(f"{path}: is a folder, expected a {what}") from None
    except OSError as exc:
        raise RequestError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RequestError(
            f"{path}: not UTF-8 text (byte {exc.start}: 0x{data[exc.start]:02x}); save the {what} as UTF-8") from None


def read_csv(text: str, origin: str) -> list[dict[str, Any]]:
    """CSV rows as dicts; a field over csv's limit or a NUL byte is one line naming the CSV line."""
    nul = text.find("\x00")
    if nul >= 0:
        raise RequestError(f"{origin}, line {text.count(chr(10), 0, nul) + 1}: the line contains a NUL byte "
                           "(is this a text CSV file?)")
    reader = csv.DictReader(io.StringIO(text))
    try:
        names = reader.fieldnames or []
        repeated = next((name for i, name in enumerate(names) if name in names[:i]), None)
        if repeated is not None:
            raise RequestError(f"{origin}, line 1: the column {repeated!r} appears more than once; "
                               "each column needs its own name")
        return list(reader)
    except csv.Error as exc:
        line = reader.reader.line_num
        reason = str(exc)
        if "field limit" in reason:
            reason = f"a field is longer than {csv.field_size_limit():,} characters"
        raise RequestError(f"{origin}, line {line}: {reason}") from None


def check_yaml(text: str, origin: str, loader: type = SAFE_LOADER) -> None:
    """Refuse a YAML text that nests too deep, expands too far, has a recursive alias or a duplicate key."""
    parser = loader(text)
    try:
        _walk(parser, origin, build=False)
    except yaml.YAMLError:
        pass  # the real load reports syntax errors with their line and column
    finally:
        parser.dispose()


def load_yaml(text: str, origin: str, loader: type = SAFE_LOADER) -> Any:
    """The data of a YAML (or JSON) text, checked as ``check_yaml`` checks; syntax errors name line and column.

    One pass over libyaml's events both checks and builds the data: PyYAML's own load keeps a
    node tree with two marks per node (hundreds of MB and seconds for 20,000 test cases). What
    that pass leaves to PyYAML (merge keys, tagged collections, complex keys, several documents)
    is checked, then loaded the usual way.
    """
    parser = loader(text)
    try:
        return _walk(parser, origin, build=True)
    except _Unusual:
        pass
    except yaml.YAMLError as exc:
        raise yaml_error(exc, origin, text) from None
    except ValueError as exc:  # a number Python refuses to convert (over 4300 digits)
        raise value_error(exc, origin) from None
    finally:
        parser.dispose()
    check_yaml(text, origin, loader)
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise yaml_error(exc, origin, text) from None
    except ValueError as exc:
        raise value_error(exc, origin) from None


class _Unusual(Exception):
    """YAML the one-pass builder leaves to PyYAML's constructor."""


_MAP_TAG, _SEQ_TAG = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_STARTS = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_ENDS = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def _walk(parser: Any, origin: str, build: bool) -> Any:
    """Walk the events once, checking the bounds; with ``build``, also construct the data."""
    # a frame per open collection: [is_mapping, {key: line}, expecting_key, anchor, count at its start,
    #                               the collection being built, its pending key]
    frames: list[list[Any]] = []
    sizes: dict[str, int | None] = {}  # anchor -> expanded node count (None while the node is open)
    built: dict[str, Any] = {}  # anchor -> its object
    root: Any = None
    count = documents = 0
    while parser.check_event():
        event = parser.get_event()
        kind = type(event)
        if kind in _FRAMING:
            if kind is yaml.DocumentStartEvent:
                documents += 1
                if build and documents > 1:
                    raise _Unusual  # PyYAML says "expected a single document"
            continue
        line = event.start_mark.line + 1
        if kind in _ENDS:
            _, _, _, anchor, start, _, _ = frames.pop()
            if anchor:
                sizes[anchor] = count - start
            _value_done(frames)
            continue
        if frames and frames[-1][0] and frames[-1][2] and kind is yaml.ScalarEvent:
            if event.value == "<<":
                if build:
                    raise _Unusual  # a merge key
            else:
                keys = frames[-1][1]
                if event.value in keys:
                    raise RequestError(
                        f"{origin}, line {line}: duplicate key {event.value!r} (first at line {keys[event.value]})")
                keys[event.value] = line
        if kind is yaml.AliasEvent:
            size = sizes.get(event.anchor, 0)
            if size is None:
                raise RequestError(f"{origin}, line {line}: alias *{event.anchor} refers to a node that contains it")
            count += size
        else:
            count += 1
        if count > MAX_NODES:
            raise RequestError(f"{origin}, line {line}: expands to more than {MAX_NODES:,} nodes "
                               "(YAML aliases repeat what they name); refused")
        if kind in _STARTS:
            if len(frames) >= MAX_DEPTH:
                raise RequestError(f"{origin}, line {line}: nested deeper than {MAX_DEPTH} levels; refused")
            mapping = kind is yaml.MappingStartEvent
            if event.anchor:
                sizes[event.anchor] = None
            value: Any = None
            if build:
                if not event.implicit and event.tag not in (_MAP_TAG if mapping else _SEQ_TAG, "!"):
                    raise _Unusual  # !!set, !!omap, a custom tag
                value = {} if mapping else []
                if event.anchor:
                    built[event.anchor] = value
                root = _place(frames, value, root)
            frames.append([mapping, {}, True, event.anchor, count - 1, value, None])
            continue
        if kind is yaml.ScalarEvent and event.anchor:
            sizes[event.anchor] = 1
        if build:
            if kind is yaml.AliasEvent:
                if event.anchor not in built:
                    raise yaml.composer.ComposerError(None, None, f"found undefined alias {event.anchor!r}",
                                                      event.start_mark)
                value = built[event.anchor]
            else:
                value = _scalar(parser, event)
                if event.anchor:
                    built[event.anchor] = value
            root = _place(frames, value, root)
        _value_done(frames)
    return root


def _place(frames: list[list[Any]], value: Any, root: Any) -> Any:
    """Put a node's object where it belongs: the root, a list, a mapping's key or its value."""
    if not frames:
        return value
    frame = frames[-1]
    if not frame[0]:
        frame[5].append(value)
    elif frame[2]:
        if isinstance(value, (dict, list)):
            raise _Unusual  # a complex key
        frame[6] = value
    else:
        frame[5][frame[6]] = value
    return root


def _scalar(parser: Any, event: Any) -> Any:
    tag = event.tag
    if tag is None or tag == "!":
        value = event.value
        firsts = _first_chars(parser.__class__)
        if not event.implicit[0] or (firsts is not None and value[:1] not in firsts):
            return value  # quoted, or no implicit type (int, bool, null, ...) starts so: a string, as PyYAML makes it
        tag = parser.resolve(yaml.ScalarNode, value, event.implicit)
    construct = parser.yaml_constructors.get(tag)
    if construct is None:
        raise _Unusual
    return construct(parser, yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style))


@functools.cache
def _first_chars(loader: type[Any]) -> frozenset[str] | None:
    """The first characters for which a loader's implicit resolvers may type a plain scalar ('' included:
    an empty plain scalar is null); None when some resolver takes any first character."""
    firsts = loader.yaml_implicit_resolvers
    return None if None in firsts else frozenset(firsts)


_FRAMING = (yaml.StreamStartEvent, yaml.StreamEndEvent, yaml.DocumentStartEvent, yaml.DocumentEndEvent)


def _value_done(frames: list[list[Any]]) -> None:
    """A node finished inside a mapping: a key is followed by its value and the other way round."""
    if frames and frames[-1][0]:
        frames[-1][2] = not frames[-1][2]


def value_error(exc: ValueError, origin: str) -> RequestError:
    """A value the parser could not convert, as one line."""
    return RequestError(f"{origin}: {str(exc).split(';')[0]}")


def yaml_error(exc: yaml.YAMLError, origin: str, text: str = "") -> RequestError:
    """A YAML syntax error as one line: ``origin: invalid YAML at line L, column C: problem``."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow (NUL, other controls)
        where = f" at line {text.count(chr(10), 0, exc.position) + 1}" if text else f" at character {exc.position}"
        problem = f"character #x{exc.character:04x} is not allowed (control characters are not YAML text)"
    return RequestError(f"{origin}: invalid YAML{where}: {problem}")


def load_json(text: str, origin: str, *, strict: bool = True) -> Any:
    """``json.loads`` that refuses documents nested deeper than ``MAX_DEPTH`` (no RecursionError).

    ``strict`` (requests, bodies): also refuses what JSON cannot mean honestly, as YAML does: a
    duplicate key, ``NaN``/``Infinity`` (not JSON), and a lone surrogate (``"\\ud800"``: no text).
    """
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant) if strict else json.loads(text)
    except RecursionError:
        raise RequestError(f"{origin}: nested deeper than {MAX_DEPTH} levels; refused") from None
    except _Refused as exc:
        raise RequestError(f"{origin}: {exc}") from None
    except json.JSONDecodeError:
        raise
    except ValueError as exc:
        raise value_error(exc, origin) from None
    _check_depth(data, origin, text_too=strict)
    return data


class _Refused(Exception):
    """A JSON text that parses but cannot be taken honestly (a duplicate key, NaN)."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(f"duplicate key {key!r}; a key may appear once in an object")
            seen.add(key)
    return data


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number; give a finite number")


_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_text(value: str, origin: str) -> None:
    if _SURROGATE.search(value):
        raise RequestError(f"{origin}: a string holds a lone surrogate (such as \\ud800), which is not text; refused")


def _check_depth(data: Any, origin: str, text_too: bool = False) -> None:
    """Refuse parsed data nested deeper than ``MAX_DEPTH`` (walked without recursion); ``text_too``:
    also strings (keys and values) that hold a lone surrogate."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    if text_too and isinstance(data, str):
        _check_text(data, origin)
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise RequestError(f"{origin}: nested deeper than {MAX_DEPTH} levels; refused")
        if isinstance(node, dict):
            if text_too:
                for key, value in node.items():
                    _check_text(key, origin)
                    if isinstance(value, str):
                        _check_text(value, origin)
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            if text_too:
                for value in node:
                    if isinstance(value, str):
                        _check_text(value, origin)
            stack.extend((v, depth + 1) for v in node if isinstance(v, (dict, list)))


