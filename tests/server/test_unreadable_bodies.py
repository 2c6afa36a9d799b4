"""A body the server cannot read as JSON, on every route that takes one: 413 or 422 in the server's error shape.

The routes come from the live server's own OpenAPI document, so a new route is tried too. Each
gets malformed JSON, JSON under the wrong Content-Type, no Content-Type, an empty body, bytes that
are not UTF-8, and bodies over ``--max-body-mb`` with and without a Content-Length. The answer is
never a 500: 422 is FastAPI's ``{"detail": [{"loc", "msg", "type"}]}`` with a message saying what is
wrong with the body, 413 is ``{"detail": "..."}`` like the server's other non-422 errors.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from .conftest import LiveServer

LIMIT_MB = 1
HUGE = b'{"name": "' + b"x" * (LIMIT_MB * 1024 * 1024 + 10) + b'"}'
#: name -> (body, Content-Type or None, what the 422 message says)
CASES: dict[str, tuple[bytes, str | None, str]] = {
    "malformed": (b'{"executions": [', "application/json", "JSON decode error"),
    "wrong content-type": (b'{"executions": []}', "text/plain", "Content-Type: application/json (got text/plain)"),
    "form content-type": (b"a=1", "application/x-www-form-urlencoded", "Content-Type: application/json"),
    "no content-type": (b'{"executions": []}', None, "Content-Type: application/json (got no Content-Type)"),
    "empty": (b"", "application/json", "the request body is empty"),
    "not utf-8": (b'{"a": "\xff\xfe"}', "application/json", "not UTF-8"),
}
#: The upload route reads JSON or CSV by itself (seed 003's datasets): only the shape is checked there.
OWN_READER = re.compile(r"/eval-datasets$")


@pytest.fixture
def server(start_server: Callable[..., LiveServer]) -> Iterator[httpx.Client]:
    with start_server(max_body_mb=LIMIT_MB).client() as client:
        yield client


def _body_routes(client: httpx.Client) -> list[str]:
    paths = client.get("/openapi.json").json()["paths"]
    routes = [re.sub(r"\{[^}]+\}", "x", path) for path, item in paths.items()
              for method, operation in item.items() if method == "post" and "requestBody" in operation]
    assert len(routes) >= 6, routes  # start-job, batch x3, eval upload and execute
    return routes


def _assert_shape(answer: httpx.Response, route: str, case: str) -> dict[str, Any] | None:
    where = f"{case} to {route}: {answer.status_code} {answer.text[:300]}"
    assert answer.status_code in (413, 422), where
    assert answer.headers["content-type"] == "application/json", where
    detail = answer.json()["detail"]
    if answer.status_code == 413:
        assert isinstance(detail, str) and "--max-body-mb" in detail, where
        return None
    assert isinstance(detail, list) and detail, where
    assert all(set(entry) == {"loc", "msg", "type"} and entry["loc"][0] == "body" for entry in detail), where
    return detail[0]  # type: ignore[no-any-return]


def test_every_unreadable_body_answers_in_the_error_shape(server: httpx.Client) -> None:
    for route in _body_routes(server):
        for case, (content, content_type, says) in CASES.items():
            headers = {"content-type": content_type} if content_type else {}
            request = server.build_request("POST", route, content=content, headers=headers)
            assert request.headers.get("content-type") == content_type  # httpx adds none for bytes
            entry = _assert_shape(server.send(request), route, case)
            assert entry is not None
            if not OWN_READER.search(route):
                assert says in entry["msg"], (route, case, entry)


def test_a_huge_body_is_413_with_or_without_content_length(server: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        for start in range(0, len(HUGE), 64 * 1024):
            yield HUGE[start:start + 64 * 1024]

    for route in _body_routes(server):
        sized = server.post(route, content=HUGE, headers={"content-type": "application/json"})
        assert _assert_shape(sized, route, "huge") is None
        chunked = server.post(route, content=chunks(), headers={"content-type": "application/json"})
        assert "content-length" not in chunked.request.headers
        assert _assert_shape(chunked, route, "huge, chunked") is None
