"""The terminal bar: permutate runs count passed / failed; batch rows and eval units done / errored."""

from __future__ import annotations

import io

from permutate_nb.core.jobs.events import JobStarted, RunSeen
from permutate_nb.tqdm_reporter import TqdmReporter


def _bar(verdicts: bool) -> str:
    stream = io.StringIO()
    reporter = TqdmReporter(stream, verdicts=verdicts)
    reporter.job_started(JobStarted("job", 3, ("m",), 3))
    for outcome in (RunSeen.of("m", True), RunSeen.of("m", True), RunSeen("m", False, False)):
        reporter.run_finished(0, outcome)  # type: ignore[arg-type]
    reporter.job_finished(None)  # type: ignore[arg-type]
    return stream.getvalue().rsplit("\r", 1)[-1]


def test_rows_without_a_verdict_count_done_and_errored() -> None:
    assert "done=2, errored=1" in _bar(False) and "passed" not in _bar(False)


def test_permutate_runs_count_passed_failed_errored() -> None:
    assert "passed=2, failed=0, errored=1" in _bar(True)
