"""YAML parsing that remembers the line of every key, so errors can say where to look."""

from __future__ import annotations

from typing import Any

import yaml

from .safe_load import SAFE_LOADER, load_yaml

__all__ = ["LineIndex", "parse_yaml_with_lines"]

_WRAPPERS = ("plugin_group", "plugin", "permutation", "test_case")


class LineIndex:
    """Maps a field path such as ``("test_cases", 1, "type")`` to a 1-based line number.

    Paths are those of the normalised request; the lookup steps through the docs'
    wrapper keys (``plugin_group:`` and friends) when the nested form put fields inside them.
    The text's nodes are composed again for the first lookup only: a valid request (the
    usual case) keeps no node tree, which for thousands of test cases is hundreds of MB.
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._root: yaml.Node | None = None

    def line_of(self, path: tuple[Any, ...]) -> int | None:
        """The line of the value at ``path`` in the request's YAML (else its nearest parent's), for error messages."""
        if self._root is None:
            self._root = yaml.compose(self._text, Loader=SAFE_LOADER)  # checked already: safe to compose
        node = self._root
        best = None
        for part in path:
            found = _child(node, part)
            if found is None:
                break
            marker, node = found
            best = marker.start_mark.line + 1
        return best


def _child(node: yaml.Node, part: Any) -> tuple[yaml.Node, yaml.Node] | None:
    """(the node whose line to report, the node to descend into) for one path step."""
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int):
        return (node.value[part], node.value[part]) if 0 <= part < len(node.value) else None
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == str(part):
                return key, value
        for key, value in node.value:
            if key.value in _WRAPPERS and isinstance(value, yaml.MappingNode):
                found = _child(value, part)
                if found is not None:
                    return found
    return None


def parse_yaml_with_lines(text: str, origin: str = "request") -> tuple[Any, LineIndex | None]:
    """The data (``safe_load.load_yaml``: bounded, one pass), and its lines indexed lazily for error messages."""
    data = load_yaml(text, origin)
    return data, (LineIndex(text) if data is not None else None)
