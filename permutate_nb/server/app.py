"""The FastAPI application: the reference documents' endpoints over the engine and the job store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request

from .. import __version__
from .context import ServerContext, json_response
from .errors import install_error_handlers
from .gate import Gate
from .openapi_doc import with_security_schemes
from .routes_batch import router as batch_router
from .routes_evals import router as evals_router
from .routes_jobs import router as jobs_router
from .schemas import Health
from .settings import ServerSettings

__all__ = ["create_app"]

_WORKER_THREADS = 64

_DESCRIPTION = """\
permutate_nb's engine over HTTP: the start-job API, batch executions and eval-dataset executions of the
reference documents, on the same job store as the `permutate` command and notebooks.

With `PERMUTATE_API_KEY` set every endpoint but `/health` needs the key in `Integrations-API-Key`,
`x-api-key` or `Authorization: Bearer`. A request may not read the server's files (paths outside
`--allow-dir`) nor fetch documents from private addresses (unless `--allow-private-urls`).
"""


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    """The server as an ASGI app (``permutate serve`` runs it); without ``settings``, the defaults (no key)."""
    settings = settings or ServerSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Planning, exports and batches waiting for a MAX_CONCURRENT_BATCHES slot take worker threads:
        # the default pool (cores + 4) would let a few waiting batches starve every other request.
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(_WORKER_THREADS, "permutate-server"))
        ctx = ServerContext.open(settings)
        app.state.ctx = ctx
        ctx.resume_owned()
        try:
            yield
        finally:
            await ctx.manager.shutdown()
            ctx.close()

    app = FastAPI(title="permutate_nb", version=__version__, description=_DESCRIPTION, lifespan=lifespan)
    install_error_handlers(app)
    app.add_middleware(Gate, api_key=settings.api_key, max_body_mb=settings.max_body_mb)

    @app.get("/health", tags=["server"], summary="Liveness; needs no key", openapi_extra={"security": []},
             responses={200: {"model": Health}})
    async def health(request: Request) -> Any:
        ctx: ServerContext = request.app.state.ctx
        return json_response({"status": "ok", "version": __version__, "running_jobs": len(ctx.manager.tasks)})

    app.include_router(jobs_router)
    app.include_router(batch_router)
    app.include_router(evals_router)
    with_security_schemes(app)
    return app
