"""YAML parsing that remembers the line of every key, so errors can say where to look."""

from __future__ import annotations

from typing import Any

import yaml

from .safe_load import check_yaml

__all__ = ["LineIndex", "parse_yaml_with_lines"]

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_WRAPPERS = ("plugin_group", "plugin", "permutation", "test_case")


class LineIndex:
    """Maps a field path such as ``("test_cases", 1, "type")`` to a 1-based line number.

    Paths are those of the normalised request; the lookup steps through the docs'
    wrapper keys (``plugin_group:`` and friends) when the nested form put fields inside them.
    """

    def __init__(self, root: yaml.Node) -> None:
        self._root = root

    def line_of(self, path: tuple[Any, ...]) -> int | None:
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
    """Check the bounds (``safe_load.check_yaml``), parse once into nodes (for lines) and
    construct the data from the same nodes."""
    check_yaml(text, origin, _Loader)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        data = loader.construct_document(node)
    finally:
        loader.dispose()
    return data, LineIndex(node)
