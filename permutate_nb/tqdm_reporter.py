"""A tqdm progress bar on stderr for terminals and CI logs, after a line per stage before the runs.

The stages (reading plugins, loading the model, translating) can take most of a first run's
time on a small machine; naming each says where that time goes before the bar has anything to
count. At a terminal a stage's line comes as it begins, with the seconds since the command
started; on a pipe or in a CI log it comes as the stage ends, with the stage's own duration, one
plain line each (a stage that fails prints no line: its one-line error says what happened).
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

from .core.jobs.events import JobStarted, Reporter
from .core.status import RunOutcome

if TYPE_CHECKING:
    from .core.jobs.permutate_result import RunDetail
    from .core.jobs.result_base import Result

__all__ = ["TqdmReporter"]


class TqdmReporter(Reporter):
    """Counts passed / wrong / errored runs; ``verdicts=False`` (batches, evals: rows have no verdict) done / errored."""

    def __init__(self, stream: Any = None, *, verdicts: bool = True, stages: bool = True, live: bool | None = None) -> None:
        """``stages=False`` hides the stage lines; ``live`` (default: whether ``stream`` is a terminal)
        writes a stage's line as it begins rather than as it ends."""
        self._stream = stream or sys.stderr
        self._verdicts = verdicts
        self._stages = stages
        self._live = _is_terminal(self._stream) if live is None else live
        self._open: tuple[str, float] | None = None  # the stage under way (not live): its label, when it began
        self._bar: Any = None
        self._counted = dict.fromkeys((RunOutcome.PASSED, RunOutcome.WRONG, RunOutcome.ERRORED), 0)
        self._began = time.monotonic()

    def stage(self, name: str, detail: str = "") -> None:
        """Live: ``permutate: 0.4 s  loading the model SmolLM2-135M-Instruct…`` (seconds since the reporter
        was made). Not live: the previous stage's line, ``permutate: reading plugins 1 plugin: 0.0 s``."""
        if not self._stages:
            return
        label = f"{name} {detail}".strip()
        if self._live:
            print(f"permutate: {time.monotonic() - self._began:.1f} s  {label}…", file=self._stream, flush=True)
            return
        self._end_stage()
        self._open = (label, time.monotonic())

    def _end_stage(self) -> None:
        """The stage under way ends (another begins, or the runs do): its line, with its duration."""
        if self._open is not None:
            label, began = self._open
            self._open = None
            print(f"permutate: {label}: {time.monotonic() - began:.1f} s", file=self._stream, flush=True)

    def job_started(self, event: JobStarted) -> None:
        """Ends the last stage's line and opens the bar, sized to the job's runs."""
        from tqdm import tqdm

        self._end_stage()

        self._bar = tqdm(total=event.total_runs, desc=event.job_name, unit="run", file=self._stream,
                         mininterval=0.2, dynamic_ncols=True)

    def run_finished(self, index: int, detail: RunDetail) -> None:
        """Counts the run's outcome and advances the bar (the counts redrawn every 16 runs and at the end)."""
        self._counted[RunOutcome.of(detail.is_run_completed, detail.passed)] += 1
        bar = self._bar
        if bar is not None:
            bar.update(1)
            if bar.n == bar.total or bar.n % 16 == 0:
                bar.set_postfix(self._counts(), refresh=False)

    def _counts(self) -> dict[str, int]:
        """``passed=2, wrong=1, errored=0`` (RunOutcome's words); without verdicts ``done=3, errored=0``."""
        counted = self._counted
        if self._verdicts:
            return {str(outcome): count for outcome, count in counted.items()}
        return {"done": counted[RunOutcome.PASSED] + counted[RunOutcome.WRONG], "errored": counted[RunOutcome.ERRORED]}

    def job_finished(self, result: Result) -> None:
        """Ends a stage still open (a job cancelled before its runs) and closes the bar with the final counts."""
        self._end_stage()  # a job cancelled before its runs: the stage it was in, until then
        if self._bar is not None:
            self._bar.set_postfix(self._counts(), refresh=False)
            self._bar.close()


def _is_terminal(stream: Any) -> bool:
    """Whether ``stream`` is a terminal (a person reads it) rather than a pipe or a file."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
