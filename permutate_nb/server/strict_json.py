"""Request bodies parsed the way the CLI parses a request file: one JSON reader for both faces.

Starlette's ``Request.json`` is ``json.loads``: it takes duplicate keys (the last wins), ``NaN``
and ``Infinity``, lone surrogates (which then fail deep in the job store, a 500) and nesting until
Python's recursion limit (another 500). ``StrictRoute`` hands every route a request whose
``json()`` is ``safe_load.load_json``: the CLI's nesting limit (``MAX_DEPTH``) and its refusals,
answered as FastAPI's 422 ``json_invalid`` with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from ..core.request.safe_load import load_json
from ..errors import RequestError

__all__ = ["StrictRequest", "StrictRoute"]


class StrictRequest(Request):
    """A request whose ``json()`` is the CLI's JSON reader: strict, with the nesting limit (``MAX_DEPTH``)."""

    async def json(self) -> Any:
        """The body as JSON, read once; a refusal raises ``JSONDecodeError`` so FastAPI answers 422 ``json_invalid``."""
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise json.JSONDecodeError("the body is not UTF-8 text", "", exc.start) from None
            try:
                self._json = load_json(text, "body")
            except RequestError as exc:
                raise json.JSONDecodeError(str(exc).removeprefix("body: "), "", 0) from None
        return self._json


class StrictRoute(APIRoute):
    """An ``APIRoute`` whose handler reads the body with ``StrictRequest.json``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The parent's handler, given a ``StrictRequest`` in place of the plain request."""
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictRequest(request.scope, request.receive))

        return strict
