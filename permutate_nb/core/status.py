"""The one status vocabulary of every job kind, and the one outcome vocabulary of every run.

``JobStatus`` is what the job store records and every face shows:

    PENDING          created, waiting to start (a batch waits here for a MAX_CONCURRENT_BATCHES slot)
    RUNNING          a process is running it
    SUCCESS          every unit finished without an error
    PARTIAL_SUCCESS  some units failed, some did not
    ERROR            every unit failed, or the job itself could not run
    CANCELLED        stopped by Ctrl-C / a kernel interrupt; the finished units are kept
    INTERRUPTED      the process running it died (its lease expired); ``resume`` finishes it

``RunOutcome`` is what one run (a permutate run, a batch row, an eval unit) came to:

    passed     the model answered and the verdict is yes
    wrong      the model answered and the verdict is no
    errored    no verdict: a timeout, an HTTP error, a reply that could not be read
    cancelled  the job stopped before the run finished

Both are ``StrEnum``s: a member equals its string, so stored and JSON values compare as they are.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

__all__ = ["JobStatus", "RunOutcome", "PENDING", "RUNNING", "SUCCESS", "PARTIAL_SUCCESS", "ERROR", "CANCELLED",
           "INTERRUPTED", "STATUSES", "FINAL", "ENDED", "Ending", "from_counts"]


class _Word(StrEnum):
    """A member ``repr``s as its string, so tuples, tables and test failures read plainly."""

    def __repr__(self) -> str:
        return repr(self.value)


class JobStatus(_Word):
    """A job's status; shown and compared as its string (``repr`` too, so tuples and tables read plainly)."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    PARTIAL_SUCCESS = "PARTIAL_SUCCESS"
    ERROR = "ERROR"
    CANCELLED = "CANCELLED"
    INTERRUPTED = "INTERRUPTED"

    @property
    def is_final(self) -> bool:
        """Nothing more will run (CANCELLED included; INTERRUPTED can still be resumed)."""
        return self in FINAL

    @property
    def ended(self) -> bool:
        """It ran to its end: SUCCESS, PARTIAL_SUCCESS or ERROR."""
        return self in ENDED


PENDING, RUNNING, SUCCESS = JobStatus.PENDING, JobStatus.RUNNING, JobStatus.SUCCESS
PARTIAL_SUCCESS, ERROR, CANCELLED, INTERRUPTED = (JobStatus.PARTIAL_SUCCESS, JobStatus.ERROR, JobStatus.CANCELLED,
                                                  JobStatus.INTERRUPTED)
STATUSES = tuple(JobStatus)
ENDED = frozenset({SUCCESS, PARTIAL_SUCCESS, ERROR})
FINAL = ENDED | {CANCELLED}


class RunOutcome(_Word):
    """What one run came to; shown and compared as its string."""

    PASSED = "passed"
    WRONG = "wrong"
    ERRORED = "errored"
    CANCELLED = "cancelled"

    @classmethod
    def of(cls, completed: bool, passed: bool) -> RunOutcome:
        """A run that completed passed or was wrong; one that did not complete errored."""
        if not completed:
            return cls.ERRORED
        return cls.PASSED if passed else cls.WRONG


class Ending(NamedTuple):
    """How a job ended: its status, and for ERROR (or a PARTIAL_SUCCESS worth explaining) a code and a message."""

    status: JobStatus
    error_code: str | None = None
    error_message: str | None = None


def from_counts(failed: int, total: int, finished: bool) -> JobStatus:
    """A job's status from its failed and total units; ``finished`` is False when it was cancelled."""
    if not finished:
        return CANCELLED
    if not failed:
        return SUCCESS
    return ERROR if failed == total else PARTIAL_SUCCESS
