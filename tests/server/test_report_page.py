"""``GET /jobs/{id}``: the job's report page, behind the same API key as every endpoint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.helpers import KLARNA, PLANTED, mixed_request

from .conftest import LiveServer

KEY = "report-page-key"


def test_the_report_page_needs_the_key_and_escapes_everything(start_server: Callable[..., LiveServer],
                                                              scripted: Any) -> None:
    server = start_server(api_key=KEY, allow_dirs=(KLARNA.parent.resolve(),), allow_urls=(scripted.base_url,))
    with server.client(**{"x-api-key": KEY}) as client:
        job = client.post("/api/start-job", json=mixed_request(scripted)).json()
        job_id = job["job_id"]
        page = client.get(f"/jobs/{job_id}")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "script-src 'sha256-" in page.headers["content-security-policy"]
        assert "Needs attention: 2 of 3 runs, by reason" in page.text and PLANTED not in page.text
        assert "expected against actual" in page.text and page.text.count("<script>") == 1
        missing = client.get("/jobs/000000000000")
        assert missing.status_code == 404 and "000000000000" in missing.json()["detail"]
    with server.client() as anonymous:
        denied = anonymous.get(f"/jobs/{job_id}")
        assert denied.status_code == 401 and "Needs attention" not in denied.text
