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
    assert "passed=2, wrong=0, errored=1" in _bar(True)


def test_at_a_terminal_a_stage_is_a_line_as_it_begins_with_the_seconds_so_far() -> None:
    stream = io.StringIO()
    reporter = TqdmReporter(stream, live=True)
    reporter.stage("loading the model", "SmolLM2-135M-Instruct")
    reporter.stage("translating")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("permutate: 0.") and lines[0].endswith("s  loading the model SmolLM2-135M-Instruct…")
    assert lines[1].endswith("s  translating…")


def test_elsewhere_a_stage_is_a_line_as_it_ends_with_its_duration() -> None:
    stream = io.StringIO()  # not a terminal: a pipe, a CI log
    reporter = TqdmReporter(stream)
    reporter.stage("reading plugins", "1 plugin")
    assert stream.getvalue() == ""  # under way: its duration is not known yet
    reporter.stage("translating", "2 prompts")
    assert stream.getvalue().splitlines()[-1].startswith("permutate: reading plugins 1 plugin: 0.")
    reporter.job_started(JobStarted("job", 1, ("m",), 1))  # the runs begin: the last stage ends
    lines = stream.getvalue().splitlines()
    assert lines[1].startswith("permutate: translating 2 prompts: 0.") and lines[1].endswith(" s")
    reporter.job_finished(None)  # type: ignore[arg-type]
    assert sum(line.startswith("permutate: ") for line in stream.getvalue().splitlines()) == 2


def test_stages_false_shows_none() -> None:
    stream = io.StringIO()
    reporter = TqdmReporter(stream, stages=False)
    reporter.stage("translating")
    reporter.job_finished(None)  # type: ignore[arg-type]
    assert stream.getvalue() == ""
