"""The start-job document's time format: ``2023-08-18T16:02:55.314867``, always UTC, no zone suffix.

A result is the same document however it is fetched (the blocking call, a later ``GET``, a
client, after a restart): the engine's clock and the job store's ``...380Z`` times both become
this one spelling.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["doc_now", "doc_time"]


def doc_now() -> str:
    """Now, in UTC, in the document's format."""
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def doc_time(value: str | None) -> str | None:
    """Any ISO time (``...Z``, an offset, or naive UTC) in the document's format; None stays None."""
    if not value:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds")
