"""Property-based fuzzing of the live server from its own OpenAPI document (schemathesis, loopback only).

Every operation gets a bounded number of generated requests; none may answer 500, and every answer
must fit the schema the document declares for its status code. (Written as a plain loop over the
operations: schemathesis' lazy pytest fixture does not run on pytest 9.)
"""

from __future__ import annotations

from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from .conftest import LiveServer

EXAMPLES = 20  # per operation: bounded, so the test stays within a minute or two on 2 cores


def test_no_500_and_every_answer_fits_its_schema(api: LiveServer, scripted: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # batch rows without a model go to the scripted server, not the embedded model (minutes of CPU a row)
    monkeypatch.setenv("ASSISTANTS_DEFAULT_MODEL_ID_OR_NAME", "gpt-4o-mini")
    scripted.set_script({"default": {"text": "ok"}})
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    failures: list[str] = []
    tried = []
    for result in schema.get_all_operations():
        operation = result.ok()
        tried.append(f"{operation.method.upper()} {operation.path}")

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            case.call_and_validate(checks=[not_a_server_error, response_schema_conformance], timeout=60)

        try:
            check()
        except Exception as exc:
            failures.append(f"{tried[-1]}: {str(exc)[:2000]}")
    assert len(tried) >= 12, tried
    assert not failures, "\n\n".join(failures)

