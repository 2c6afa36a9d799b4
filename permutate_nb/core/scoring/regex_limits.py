"""``$regex`` matchers with a time limit: a pattern written by a stranger must not stall a job or a server.

Python's ``re`` backtracks without bound (``(a+)+$`` against ``"a"*34 + "!"`` runs for minutes, on
the event loop). The ``regex`` package takes a ``timeout=`` and stops the match itself, so no
thread is left running; a match that times out fails its run with the reason ``regex timeout``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import regex

from ...errors import PermutateError

__all__ = ["REGEX_TIMEOUT", "RegexTimeout", "compile_pattern", "full_match", "regex_error"]

regex_error = regex.error  # an invalid pattern

#: Seconds one ``$regex`` match may take.
REGEX_TIMEOUT = 0.1
#: Patterns that timed out once fail at once after that (bounded): scoring runs on the job's event
#: loop, and a thousand test cases naming one bad pattern must not add up to minutes.
_TIMED_OUT: dict[str, None] = {}
_TIMED_OUT_MAX = 4096


class RegexTimeout(PermutateError):
    """A ``$regex`` match ran past ``REGEX_TIMEOUT``: the run fails with this reason."""

    def __init__(self) -> None:
        super().__init__("regex timeout")


@lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> Any:
    """The compiled pattern (``regex`` in its ``re``-compatible V0 mode); raises ``regex_error``."""
    return regex.compile(pattern, flags=regex.V0)


def full_match(pattern: str, text: str, timeout: float | None = None) -> bool:
    """Whether ``text`` matches all of ``pattern``; ``RegexTimeout`` past the limit."""
    if pattern in _TIMED_OUT:
        raise RegexTimeout()
    try:
        return compile_pattern(pattern).fullmatch(text, timeout=REGEX_TIMEOUT if timeout is None else timeout) is not None
    except TimeoutError:
        if len(_TIMED_OUT) >= _TIMED_OUT_MAX:
            _TIMED_OUT.clear()
        _TIMED_OUT[pattern] = None
        raise RegexTimeout() from None
