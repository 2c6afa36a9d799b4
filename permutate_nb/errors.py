"""Errors raised by permutate_nb, written to be read by the person who ran the job.

Every error a user can cause derives from ``PermutateError``; its ``str()`` is one or two
lines that name the field, file, line or URL at fault and say what to do. Faces (CLI,
notebook) print that text alone, with no traceback, unless asked for one.

    PermutateError
    ├── RequestError        the request (YAML / JSON / dict) is invalid
    ├── PluginLoadError     a manifest or OpenAPI document cannot be fetched or understood
    ├── UnknownJobError     no job with that id in the job store
    ├── JobRunningError     the job is running in another process (it holds the job's lease)
    ├── ConfigurationError  settings are missing or wrong (API key, model file, provider)
    │   └── MissingExtraError   an optional package is not installed (names the pip command)
    └── ProviderError       an LLM endpoint failed for good (after retries)
        └── TransientProviderError  a failure worth retrying (429, 5xx, timeout, connection)
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

__all__ = [
    "PermutateError",
    "RequestError",
    "PluginLoadError",
    "UnknownJobError",
    "JobRunningError",
    "ConfigurationError",
    "MissingExtraError",
    "ProviderError",
    "TransientProviderError",
    "PermutateWarning",
    "PermutateNote",
    "one_line_warnings",
]


class PermutateError(Exception):
    """Base class: the message is complete and meant for the user as is."""


class RequestError(PermutateError):
    """The permutate request is invalid; the message names the field path and, for YAML, the line."""


class PluginLoadError(PermutateError):
    """A plugin manifest or its OpenAPI document could not be fetched, parsed or understood."""


class UnknownJobError(PermutateError):
    """A job id that the job store does not hold."""


class JobRunningError(PermutateError):
    """A job that another live process runs (it holds the lease): resuming it too would run it twice."""


class ConfigurationError(PermutateError):
    """Something outside the request is missing: an API key, a model file, a provider."""


class MissingExtraError(ConfigurationError):
    """An optional dependency is missing; the message is the pip command that installs it."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"{package} is not installed: run  pip install \"permutate-nb[{extra}]\""
        )
        self.package = package
        self.extra = extra


class ProviderError(PermutateError):
    """An LLM endpoint answered with an error that retrying will not fix."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class TransientProviderError(ProviderError):
    """A failure worth retrying: 429, 5xx, a timeout or a dropped connection."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after


class PermutateWarning(UserWarning):
    """Something was worked around (a snapshot used, a config key ignored); shown as one line."""


class PermutateNote(PermutateWarning):
    """Expected and harmless (a bundled snapshot used offline): shown quietly, once per process.

    In a notebook it is a grey line in the cell's output, not the red stderr box real problems use.
    """


_NOTES_SHOWN: set[str] = set()


def _show_note(text: str, file: TextIO | None = None) -> None:
    from .core.html_text import escape_html

    if text in _NOTES_SHOWN:
        return
    _NOTES_SHOWN.add(text)
    ipython = sys.modules.get("IPython")  # never imported here: only used when a kernel already runs
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None and getattr(shell, "kernel", None) is not None:
        from IPython.display import display

        display({"text/plain": f"permutate: note: {text}",
                 "text/html": f'<div style="color:#777;font-size:0.85em">permutate: note: {escape_html(text)}</div>'},
                raw=True)
    else:
        print(f"permutate: note: {text}", file=file or sys.stderr)


@contextmanager
def one_line_warnings() -> Iterator[None]:
    """While the block runs, show PermutateWarning as ``permutate: warning: ...`` (no file and line of
    our code), other warnings as before; the previous display is restored after. The faces use it around
    a job (``runner.blocking``, the magics, the request builder): importing the package patches nothing."""
    with warnings.catch_warnings():
        original = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, PermutateNote):
                _show_note(str(message), file)
            elif issubclass(category, PermutateWarning):
                print(f"permutate: warning: {message}", file=file or sys.stderr)
            else:
                original(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield
