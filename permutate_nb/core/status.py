"""The one status vocabulary of every job kind, in the store, in results and in the CLI.

    PENDING          created, waiting to start (a batch waits here for a MAX_CONCURRENT_BATCHES slot)
    RUNNING          a process is running it
    SUCCESS          every unit finished without an error
    PARTIAL_SUCCESS  some units failed, some did not
    ERROR            every unit failed, or the job itself could not run
    CANCELLED        stopped by Ctrl-C / a kernel interrupt; the finished units are kept
    INTERRUPTED      the process running it died (its lease expired); ``resume`` finishes it
"""

from __future__ import annotations

__all__ = ["PENDING", "RUNNING", "SUCCESS", "PARTIAL_SUCCESS", "ERROR", "CANCELLED", "INTERRUPTED", "STATUSES",
           "FINAL", "from_counts"]

PENDING, RUNNING, SUCCESS, PARTIAL_SUCCESS = "PENDING", "RUNNING", "SUCCESS", "PARTIAL_SUCCESS"
ERROR, CANCELLED, INTERRUPTED = "ERROR", "CANCELLED", "INTERRUPTED"
STATUSES = (PENDING, RUNNING, SUCCESS, ERROR, PARTIAL_SUCCESS, CANCELLED, INTERRUPTED)
FINAL = (SUCCESS, PARTIAL_SUCCESS, ERROR, CANCELLED)


def from_counts(failed: int, total: int, finished: bool) -> str:
    """A job's status from its failed and total units; ``finished`` is False when it was cancelled."""
    if not finished:
        return CANCELLED
    if not failed:
        return SUCCESS
    return ERROR if failed == total else PARTIAL_SUCCESS
