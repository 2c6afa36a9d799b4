"""Defaults set once per notebook (``pn.defaults(provider="local")``, ``%permutate config``).

Each is used where a call leaves its option at None: ``provider`` for ``run`` and ``bfcl`` (and
``%%permutate``), ``concurrency`` and ``cache`` for every job. They live as long as the process
(the kernel): a notebook sets them in its first cell instead of repeating them in every call.
"""

from __future__ import annotations

from typing import Any

from ..errors import RequestError

__all__ = ["defaults", "default"]

_KEYS = ("provider", "concurrency", "cache")
_current: dict[str, Any] = {}


def defaults(*, provider: str | None = None, concurrency: int | None = None, cache: bool | None = None,
             reset: bool = False) -> dict[str, Any]:
    """Set the given defaults (``reset=True`` first forgets every one); returns the defaults now in force."""
    if reset:
        _current.clear()
    if concurrency is not None and (isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1):
        raise RequestError(f"defaults: concurrency must be a whole number of at least 1, not {concurrency!r}")
    for key, value in (("provider", provider), ("concurrency", concurrency), ("cache", cache)):
        if value is not None:
            _current[key] = value
    return dict(_current)


def default(key: str, given: Any) -> Any:
    """``given``, or when it is None the default set for ``key`` (None if none was)."""
    assert key in _KEYS, key
    return _current.get(key) if given is None else given
