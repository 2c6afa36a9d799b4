"""``permutate serve``: the reference documents' HTTP APIs on the engine and the job store (extra ``api``).

    pip install "permutate-nb[api]"
    permutate serve [--host 127.0.0.1] [--port 8989] [--allow-dir DIR ...] [--allow-private-urls] [--max-body-mb N]
                    [--allow-url PREFIX ...] [--allow-key-env NAME ...] [--allow-backend MODULE ...]
                    [--executor ray [--ray-address ADDR] [--workers N]]
"""

from __future__ import annotations

from typing import Any

from ..errors import MissingExtraError
from .settings import DEFAULT_PORT, ServerSettings

__all__ = ["ServerSettings", "create_app", "serve", "DEFAULT_PORT"]


def _require_extra() -> None:
    for package in ("fastapi", "uvicorn"):
        try:
            __import__(package)
        except ImportError:
            raise MissingExtraError(package, "api") from None


def create_app(settings: ServerSettings | None = None) -> Any:
    """The ASGI application (FastAPI), for uvicorn or any ASGI server."""
    _require_extra()
    from .app import create_app as _create

    return _create(settings)


def serve(settings: ServerSettings, *, log_level: str = "info") -> None:
    """Serve until interrupted; jobs left unfinished are resumed by the next start."""
    app = create_app(settings)
    import uvicorn

    uvicorn.run(app, host=settings.host, port=settings.port, log_level=log_level, timeout_graceful_shutdown=5)
