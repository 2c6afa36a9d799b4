"""Progress events. The engine reports through a ``Reporter``; faces decide how to show it.

A reporter must be cheap: ``run_finished`` is called once per run on the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..status import RunOutcome
from .result_base import Result

__all__ = ["JobStarted", "RunSeen", "Reporter"]


@dataclass(frozen=True, slots=True)
class JobStarted:
    """What reporters are told as the runs begin (``Reporter.job_started``): enough to draw progress bars.

    Attributes:
        job_name: The name a progress display shows.
        total_runs: The runs planned, restored ones included.
        permutations: The bars runs count toward: the permutations, or a batch's or an eval's models.
        runs_per_permutation: Runs in each bar (0 when they differ, as a batch's models' do).
    """

    job_name: str
    total_runs: int
    permutations: tuple[str, ...]
    runs_per_permutation: int


@dataclass(frozen=True, slots=True)
class RunSeen:
    """What reporters read of a run that is not a permutate RunDetail (a batch row, an eval unit)."""

    permutation_name: str  # the bar it counts toward: a permutation, or a model
    is_run_completed: bool
    passed: bool

    @property
    def outcome(self) -> RunOutcome:
        """Passed, wrong or errored, as a permutate row's outcome is counted."""
        return RunOutcome.of(self.is_run_completed, self.passed)

    @classmethod
    def of(cls, group: str, ok: bool) -> RunSeen:
        """A row counted toward ``group`` that completed and passed when ``ok``, else errored."""
        return cls(group, ok, ok)


class Reporter:
    """Override what you need; every hook is a no-op by default."""

    def stage(self, name: str, detail: str = "") -> None:
        """What the job does before its runs: ``loading the model``, ``translating`` (``4 prompts``)."""

    def step(self, name: str, done: int, total: int) -> None:
        """How far a named step inside the units has come: an eval's ``answering`` and ``judging``."""

    def job_started(self, event: JobStarted) -> None:
        """The runs begin: the job's name, its planned runs and its permutations."""

    def run_started(self, index: int) -> None:
        """Run ``index`` (its position in matrix order) was handed to a worker."""

    def run_finished(self, index: int, detail: Any) -> None:
        """Run ``index`` finished and its row is committed: a ``RunDetail``, or a ``RunSeen`` for batch,
        eval and generate units."""

    def job_finished(self, result: Result) -> None:
        """The job ended (done, failed or cancelled); ``result`` is what the caller gets."""
