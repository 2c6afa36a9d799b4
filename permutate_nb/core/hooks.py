"""What the layers above the core plug in: how a result is written to a file, displayed and laid out
as one page (the HTML report's body), and how a blocking job shows its progress (a notebook's live
bars for ``pn.run`` and the other calls).

The core cannot import ``export`` or ``notebook`` (import-linter checks it), yet
``result.write(path)`` and a result's rich display in a notebook must work. So the core
keeps two slots here; ``permutate_nb.export`` fills ``writer`` when it is imported and the
package's ``__init__`` fills ``renderer`` with a function that imports the notebook views on
first display, and ``page`` likewise (the report, written by ``export``, shows the notebook's view).
``import permutate_nb`` always runs before any core module, so all are set whenever a result exists.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["register_writer", "register_renderer", "register_progress", "register_page", "write", "render",
           "with_progress", "page"]

_writer: Callable[[Any, Path, str | None], Path] | None = None
_renderer: Callable[[Any, Any, Any], dict[str, str]] | None = None
_progress: Callable[[Any, Callable[[Any], Any]], Any] | None = None
_page: Callable[[Any], str] | None = None


def register_writer(writer: Callable[[Any, Path, str | None], Path]) -> None:
    """Set how ``result.write`` writes a file (``permutate_nb.export`` registers itself on import)."""
    global _writer
    _writer = writer


def register_renderer(renderer: Callable[[Any, Any, Any], dict[str, str]]) -> None:
    """Set how a result displays itself in a notebook (the package's ``__init__`` registers it)."""
    global _renderer
    _renderer = renderer


def register_progress(progress: Callable[[Any, Callable[[Any], Any]], Any]) -> None:
    """Set how a blocking job shows live progress (the notebook's bars)."""
    global _progress
    _progress = progress


def with_progress(job: Any, start: Callable[[Any], Any]) -> Any:
    """``start(reporter)`` under the face's live progress for ``job``; ``start(None)`` when no face shows any."""
    if _progress is None:
        return start(None)
    return _progress(job, start)


def register_page(page_: Callable[[Any], str]) -> None:
    """Set how a result renders as one whole HTML page (the report's body)."""
    global _page
    _page = page_


def page(result: Any) -> str:
    """``result``'s whole view as HTML, every run listed (the report's body)."""
    if _page is None:
        raise RuntimeError("no page renderer registered: import permutate_nb")
    return _page(result)


def write(result: Any, path: Any, fmt: str | None = None) -> Path:
    """Write ``result`` as ``fmt`` (".json", ".csv", ".xlsx"; None: by the path's extension)."""
    if _writer is None:
        raise RuntimeError("no result writer registered: import permutate_nb")
    return _writer(result, Path(path), fmt)


def render(result: Any, include: Any = None, exclude: Any = None) -> dict[str, str]:
    """``result``'s rich display as MIME bundle; plain ``repr`` when no renderer is registered."""
    if _renderer is None:
        return {"text/plain": repr(result)}
    return _renderer(result, include, exclude)
