"""BFCL's backend classes as one conversation backend: ``bfcl_backends:GorillaFileSystem__TwitterAPI``.

Why: a conversation names one backend class (``backend: module:Class``) whose public methods are
its tools, while a BFCL entry involves several classes (``involved_classes``). Each attribute of
this module named ``A__B__...`` is a class made on first use whose methods are the documented
functions of BFCL's classes A, B, ... (a later class wins a shared name, as in BFCL). Its
``_load_scenario({"entry_id", "initial_config"})`` makes fresh instances as BFCL's checker does
(``long_context`` from the id), and each call runs as BFCL's inference runs it
(``scoring.bfcl_multi_turn.Backends``): the model reads BFCL's result text, ``Error during
execution: ...`` included.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..scoring.bfcl_multi_turn import Backends, call_string
from .bfcl_suite import bfcl_data_dir

__all__ = ["backend_path"]

_MADE: dict[str, type] = {}


def backend_path(involved_classes: list[str]) -> str:
    """The ``backend:`` path of the class combining ``involved_classes`` (in their order)."""
    return f"{__name__}:{'__'.join(involved_classes)}"


class _BfclBackends:
    """Fresh instances of an entry's classes; each documented function is a method."""

    classes: tuple[str, ...] = ()

    def _load_scenario(self, config: dict[str, Any]) -> None:
        entry = {"id": config["entry_id"], "involved_classes": list(self.classes),
                 "initial_config": config.get("initial_config") or {}}
        self._backends = Backends(entry, "permutate_eval")
        self._backends.execute([])


def _method(name: str) -> Callable[..., str]:
    def call(self: _BfclBackends, **arguments: Any) -> str:
        return self._backends.execute([call_string(name, arguments)])[0]

    call.__name__ = call.__qualname__ = name
    return call


def _documented(class_name: str) -> list[str]:
    from bfcl_eval.constants.executable_backend_config import MULTI_TURN_FUNC_DOC_FILE_MAPPING

    path = bfcl_data_dir() / "multi_turn_func_doc" / MULTI_TURN_FUNC_DOC_FILE_MAPPING[class_name]
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line)["name"] for line in lines if line.strip()]


def __getattr__(name: str) -> type:
    if name.startswith("_") or not name:
        raise AttributeError(name)
    if name not in _MADE:
        from bfcl_eval.constants.executable_backend_config import MULTI_TURN_FUNC_DOC_FILE_MAPPING

        classes = tuple(name.split("__"))
        unknown = [c for c in classes if c not in MULTI_TURN_FUNC_DOC_FILE_MAPPING]
        if unknown:
            raise AttributeError(f"{unknown[0]} is not one of BFCL's backend classes")
        methods = {fn: _method(fn) for c in classes for fn in _documented(c)}
        _MADE[name] = type(name, (_BfclBackends,), {"classes": classes, "__module__": __name__, **methods})
    return _MADE[name]
