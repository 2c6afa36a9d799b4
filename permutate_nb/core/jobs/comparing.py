"""``pn.compare`` / ``permutate compare``: load two permutate jobs, then compare them (``stats.compare``).

Loading needs the job kinds and the store; the statistics do not, so they live apart and
``stats`` stays below the jobs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ...errors import RequestError
from ..scoring.detail import RunDetail
from ..stats.compare import JobComparison, compare_labelled
from .kinds import results
from .permutate_result import JobResult

__all__ = ["compare_jobs"]


def _load(source: JobResult | str | Path) -> tuple[str, list[RunDetail], dict[str, Any] | None]:
    """A label, the detail rows and the tool snapshot of a JobResult, a result file (.json) or a stored job id."""
    if isinstance(source, JobResult):
        return _label(source.job_name, source.job_id), list(source.details), source.tools
    path = Path(source)
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            rows = [RunDetail.from_dict(row) for row in data["details"]]
            return _label(data.get("job_name"), path.name), rows, data.get("tools")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RequestError(f"{path}: not a permutate result file ({exc.__class__.__name__}: {exc}); "
                               "write one with `permutate run ... -o FILE.json`") from None
    job = results(str(source))
    if not isinstance(job, JobResult):
        raise RequestError(f"job {source} is not a permutate job; compare works on permutate jobs")
    return _label(job.job_name, str(source)), list(job.details), job.tools


def _label(name: str | None, key: str | None) -> str:
    """``klarna_test-1.0.0-2026-12-03 (4f0c2a9e1b7d)``: the job's name, then its id (or file)."""
    if name and key and name != key:
        return f"{name} ({key})"
    return str(name or key)


def compare_jobs(baseline: JobResult | str | Path, candidate: JobResult | str | Path) -> JobComparison:
    """Candidate against baseline, per permutation, runs matched by test case, language and repeat."""
    base_label, base_rows, base_tools = _load(baseline)
    cand_label, cand_rows, cand_tools = _load(candidate)
    return compare_labelled(base_label, base_rows, cand_label, cand_rows, base_tools, cand_tools)
