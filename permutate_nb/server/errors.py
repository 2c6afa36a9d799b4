"""Errors as HTTP answers: 422 in FastAPI's ``{"detail": [{"loc", "msg", "type"}]}`` shape, 404, never a stack.

A ``PermutateError``'s message is the CLI's line (``request: test_cases[1].type: unknown ...``);
its field path becomes ``loc`` (``["body", "test_cases", 1, "type"]``) and the line stays the
``msg``, so the HTTP answer names the same field as the command line. Validation errors never
echo the submitted value (it may hold a key).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from ..errors import ConfigurationError, PermutateError, PluginLoadError, UnknownJobError
from .guard import FieldError

__all__ = ["install_error_handlers", "error_detail", "not_found"]

log = logging.getLogger("permutate_nb.server")
_ORIGIN = re.compile(r"^(?:request|[^:\n]+\.(?:ya?ml|json))(?:, line \d+)?: ")
_PATH = re.compile(r"^([A-Za-z_][\w-]*(?:\[\d+\]|\.[A-Za-z_][\w-]*)*): (.+)$", re.S)
_ROW = re.compile(r"^(row|case) (\d+)\b")
_PART = re.compile(r"\[(\d+)\]|\.?([A-Za-z_][\w-]*)")
_SERVER_PATH = re.compile(r" in \S+\.sqlite|; `permutate jobs` lists the jobs")


def not_found(message: str) -> JSONResponse:
    """A 404 in FastAPI's ``{"detail": message}`` shape (an unknown job, execution or file)."""
    return JSONResponse({"detail": message}, status_code=404)


def _kind(exc: PermutateError) -> str:
    if isinstance(exc, PluginLoadError):
        return "plugin_error"
    if isinstance(exc, ConfigurationError):
        return "configuration_error"
    return "value_error"


def _loc(line: str, row_loc: tuple[str, ...]) -> list[str | int]:
    """The body path a CLI message line names: a field path, or ``row N`` / ``case N`` (1-based).

    ``row_loc`` is where a route's rows live: ``"#"`` in it stands for the row's 0-based index, and
    a message that names no row or field points at its part without the index (or at the body).
    """
    text = _ORIGIN.sub("", line, count=1)
    row = _ROW.match(text)
    index = int(row.group(2)) - 1 if row else None
    if index is None and not row_loc:
        path = _PATH.match(text)
        if path and path.group(1) != "request":
            return ["body", *[int(i) if i else name for i, name in _PART.findall(path.group(1))]]
    return ["body", *[index if part == "#" and index is not None else part for part in row_loc if part != "#" or index is not None]]


def error_detail(exc: PermutateError, row_loc: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """One entry per line of the message, each with the field path it names (see ``_loc``)."""
    kind = _kind(exc)
    if isinstance(exc, FieldError):
        return [{"loc": ["body", *exc.loc], "msg": str(exc), "type": kind}]
    lines = [line for line in str(exc).splitlines() if line.strip() and not line.startswith("... and ")]
    return [{"loc": _loc(line, row_loc), "msg": line, "type": kind} for line in lines] or [
        {"loc": ["body"], "msg": str(exc) or type(exc).__name__, "type": kind}]


def _message(error: dict[str, Any], content_type: str) -> str:
    """FastAPI's message, with the reason a body was not taken as JSON (``ctx.error``) when it has one.

    A whole body that is missing, or was not read as JSON because of its Content-Type, says so: FastAPI's
    own words ("Field required", "Input should be a valid dictionary") would send the client looking
    for a field."""
    msg = str(error.get("msg", ""))
    reason = (error.get("ctx") or {}).get("error")
    if error.get("type") == "json_invalid" and reason:
        return f"{msg}: {reason}"
    if tuple(error.get("loc", ())) == ("body",):
        if error.get("type") == "missing":
            return "the request body is empty; send a JSON object with Content-Type: application/json"
        if "json" not in content_type:
            return (f"the body must be JSON sent with Content-Type: application/json (got "
                    f"{content_type or 'no Content-Type'})")
    return msg


def install_error_handlers(app: FastAPI) -> None:
    """Install the answers: 404 for an unknown job, 422 for a ``PermutateError`` or bad body, else a one-line 500."""
    @app.exception_handler(UnknownJobError)
    async def unknown(request: Request, exc: UnknownJobError) -> JSONResponse:
        return not_found(_SERVER_PATH.sub("", str(exc)))  # the store's path is the server's business

    @app.exception_handler(PermutateError)
    async def invalid(request: Request, exc: PermutateError) -> JSONResponse:
        row_loc = getattr(request.state, "row_loc", ())
        return JSONResponse({"detail": error_detail(exc, row_loc)}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()[:100]
        detail = [{"loc": list(e.get("loc", ())), "msg": _message(e, content_type), "type": e.get("type", "value_error")}
                  for e in exc.errors()]
        return JSONResponse({"detail": detail}, status_code=422)

    app.add_middleware(_Contain)


class _Contain:
    """Any other failure answers 500 in one line; the stack goes to the server log only.

    Plain ASGI rather than an ``Exception`` handler: Starlette re-raises after such a handler
    answers, and uvicorn then drops the connection, so a client's next request on it fails.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def tracked(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:  # noqa: BLE001 - answered here, logged with its stack
            log.error("%s %s failed: %s: %s", scope["method"], scope["path"], type(exc).__name__, exc, exc_info=exc)
            if started:
                raise  # half an answer is out: only dropping the connection tells the client
            await JSONResponse({"detail": f"internal error ({type(exc).__name__}); the server log has the details"},
                               status_code=500)(scope, receive, send)
