"""A tqdm progress bar on stderr for terminals and CI logs."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from .core.jobs.events import JobStarted, Reporter

if TYPE_CHECKING:
    from .core.jobs.permutate_result import RunDetail
    from .core.jobs.result_base import Result

__all__ = ["TqdmReporter"]


class TqdmReporter(Reporter):
    """``verdicts=False`` (batches, evals: rows have no pass/fail) counts done / errored."""

    def __init__(self, stream: Any = None, *, verdicts: bool = True) -> None:
        self._stream = stream or sys.stderr
        self._verdicts = verdicts
        self._bar: Any = None
        self._passed = self._failed = self._errored = 0

    def job_started(self, event: JobStarted) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=event.total_runs, desc=event.job_name, unit="run", file=self._stream,
                         mininterval=0.2, dynamic_ncols=True)

    def run_finished(self, index: int, detail: "RunDetail") -> None:
        if not detail.is_run_completed:
            self._errored += 1
        elif detail.passed:
            self._passed += 1
        else:
            self._failed += 1
        bar = self._bar
        if bar is not None:
            bar.update(1)
            if bar.n == bar.total or bar.n % 16 == 0:
                bar.set_postfix(self._counts(), refresh=False)

    def _counts(self) -> dict[str, int]:
        if self._verdicts:
            return {"passed": self._passed, "failed": self._failed, "errored": self._errored}
        return {"done": self._passed + self._failed, "errored": self._errored}

    def job_finished(self, result: "Result") -> None:
        if self._bar is not None:
            self._bar.set_postfix(self._counts(), refresh=False)
            self._bar.close()
