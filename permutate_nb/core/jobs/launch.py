"""Starting a job: the executor its request asks for, then the one runner (``runner.execute``).

Every kind's ``*_async`` entry point and ``resume`` come through ``launch``; the runner itself
knows no executor but the one it is handed, so Ray (which imports the runner) stays above it.
"""

from __future__ import annotations

from typing import Any

from ..executors.choose import executor_for
from .result_base import Result
from .runner import Job, execute

__all__ = ["launch"]


async def launch(job: Job[Any], *, executor: Any = None, **options: Any) -> Result:
    """Run ``job`` through ``runner.execute`` on ``executor`` (``"ray"``, a ``config.executor``
    mapping, an ``Executor``; default the job's own ``config.executor``, else in-process)."""
    return await execute(job, executor=executor_for(executor if executor is not None else job.executor), **options)
