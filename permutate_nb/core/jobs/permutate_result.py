"""Job results in the start-job response shape, with summaries recomputable from the rows.

Every figure in a summary is derived here from the detail rows and nothing else (apart
from ``total_run_time``, the job's wall-clock time), so a reader can check it. Failed runs
stay in every denominator: an error is a miss, never a row dropped from an average.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ..scoring.detail import _FIELDS, RunDetail
from ..stats.tally import GROUP_KEYS, Tallies
from ..store.stored_rows import StoredRows
from .result_base import Result

if TYPE_CHECKING:  # pandas is imported on first use: it costs ~0.3 s at start-up
    import pandas as pd

    from ..stats.compare import PairedComparison

__all__ = ["RunDetail", "JobResult", "summarise"]




def summarise(details: Iterable[RunDetail], *, total_run_time: float | None = None) -> dict[str, Any]:
    """The start-job summary for these rows, plus the counts behind each percentage.

    ``total_run_time`` is the job's wall-clock time for the overall summary; for a subset
    (one permutation, one language) it is the sum of the rows' response times.
    """
    return Tallies.of(details).summary(total_run_time)


@dataclass(slots=True)
class JobResult(Result):
    """A permutate job's result; ``status`` is the job store's (SUCCESS, PARTIAL_SUCCESS, ERROR, CANCELLED, ...).

    ``to_dict()`` is the start-job response; ``summary``, ``summary_df`` and ``details_df`` are the
    figures and rows, ``compare()`` pairs two permutations, ``write(path)`` exports by extension.

    Attributes:
        job_name: ``{name}-{version}-{date}``, as the start-job response names it.
        started_on: When the job started (ISO 8601, UTC).
        completed_on: When it ended.
        test_plugin: The request's ``test_plugin``, if any.
        permutations: One entry per permutation: its name, summary, model and selector.
        details: The rows in matrix order; for a stored job read from the job store as used
            (``len`` is one count, slices read just those rows).
        total_run_time: The job's wall-clock time in seconds.
        status: The job store's status for the job.
        planned_runs: Runs the matrix has (finished or not).
        output_directory: The start-job document's field; None unless a face sets it.
        request: The request without secrets (``openplugin_api_key`` masked).
        job_id: The job's id in the job store (None for ``store=False``).
        tallies: The summary counts kept while the job ran, so summaries need not read every row again.
        tools: Per plugin group: the tools offered and their digest.
        record: The job store's record of the job (times, attempts, error), when it was stored.
    """

    job_name: str
    started_on: str
    completed_on: str
    test_plugin: dict[str, Any] | None
    permutations: list[dict[str, Any]]
    details: Sequence[RunDetail]  # a list, or the job store's rows read as used (``StoredRows``)
    total_run_time: float
    status: str = "SUCCESS"
    planned_runs: int = 0
    output_directory: str | None = None
    request: dict[str, Any] = field(default_factory=dict)
    job_id: str | None = None
    tallies: Tallies | None = field(default=None, repr=False, compare=False)  # kept while the job ran
    tools: dict[str, Any] | None = field(default=None, repr=False, compare=False)  # per plugin group: the tools offered and their digest
    record: dict[str, Any] | None = field(default=None, repr=False, compare=False)  # the store's record of the job

    kind: ClassVar[str] = "permutate"
    _run_keys: ClassVar[tuple[str, ...]] = ("permutation_name", "test_case_name", "language", "repeat")

    def _run_rows(self) -> Sequence[RunDetail]:
        return self.details

    @property
    def started_at(self) -> str | None:
        """The document's ``started_on`` (a resumed job's first start), or None."""
        return self.started_on or None

    @property
    def ended_at(self) -> str | None:
        """The document's ``completed_on``, or None."""
        return self.completed_on or None

    @property
    def planned(self) -> int:
        """``planned_runs``: the runs the matrix has, finished or not."""
        return self.planned_runs

    @property
    def finished(self) -> int:
        """Rows the result holds (for a stored job, the rows stored so far)."""
        return len(self.details)

    def _tallies(self) -> Tallies:
        """The summaries' counts: kept by the run, else counted from the rows (once for stored rows,
        each time for a list, which its owner may change)."""
        if self.tallies is not None:
            return self.tallies
        tallies = Tallies.of(self.details)
        if isinstance(self.details, StoredRows):
            self.tallies = tallies
        return tallies

    @property
    def summary(self) -> dict[str, Any]:
        """The start-job summary over every run, with counts, intervals and pass@k."""
        return self._tallies().summary(self.total_run_time)

    def summary_by(self, key: str) -> dict[str, dict[str, Any]]:
        """Summaries per value of a detail field, e.g. ``permutation_name`` or ``language``."""
        if key in GROUP_KEYS:
            return self._tallies().summary_by(key)
        groups: dict[str, list[RunDetail]] = {}
        for row in self.details:
            groups.setdefault(getattr(row, key), []).append(row)
        return {name: summarise(rows) for name, rows in groups.items()}

    def models(self) -> dict[str, str]:
        """Per permutation, the model that answered, crediting the one ``--provider`` replaced:
        ``{"p1": "gpt-4o-mini → local SmolLM2-135M-Instruct"}`` (``{"p1": "gpt-4o-mini"}`` without)."""
        return {p["name"]: _credit(p.get("llm") or {}) for p in self.permutations}

    def labels(self) -> dict[str, str]:
        """How plots, heatmaps and comparisons name each permutation: its name, and with ``--provider``
        the model that really answered, ``p1 (gpt-4o-mini → local SmolLM2-135M-Instruct)``."""
        return {p["name"]: f"{p['name']} ({_credit(p['llm'])})" if (p.get("llm") or {}).get("replaces") else p["name"]
                for p in self.permutations}

    def cells(self) -> dict[tuple[str, str, str], tuple[int, int]]:
        """(repeats, passes) per permutation x test case x language, in unit order."""
        return {key: (cell.runs, cell.passed) for key, cell in self._tallies().ordered_cells()}

    def to_dict(self, details: bool = True) -> dict[str, Any]:
        """The start-job response shape, with our extra fields after the documented ones
        (``details=False``: ``details`` is None, for a writer that streams the rows itself)."""
        return {
            "job_name": self.job_name,
            "started_on": self.started_on,
            "completed_on": self.completed_on,
            "test_plugin": self.test_plugin,
            "permutations": self.permutations,
            "summary": self.summary,
            "details": [d.to_dict() for d in self.details] if details else None,
            "output_directory": self.output_directory,
            "status": self.status,
            "planned_runs": self.planned_runs,
            "summary_by_permutation": self.summary_by("permutation_name"),
            "summary_by_language": self.summary_by("language"),
            "summary_by_test_case": self.summary_by("test_case_name"),
            "job_id": self.job_id,
            "tools": self.tools,
        }

    def compare(self, a: str, b: str) -> PairedComparison:
        """Permutation ``b`` against ``a`` over the same test cases and languages (``b`` minus ``a``);
        ``tool_drift`` lists how their plugin groups' tools differ, if they do."""
        from ..stats.compare import compare_permutations

        return compare_permutations(self.details, a, b, tools=self.tools, groups=self._groups())

    def _groups(self) -> dict[str, str]:
        """Permutation name -> its plugin group, from the request."""
        return {str(p.get("name")): str((p.get("tool_selector") or {}).get("plugin_group_name"))
                for p in self.request.get("permutations", []) if isinstance(p, dict)}

    @property
    def tools_df(self) -> pd.DataFrame:
        """The tools this job offered, one row per plugin group and tool (description's first line,
        parameters with ``*`` for required); the full schemas are in ``tools``."""
        import pandas as pd

        from ..plugins.tool_snapshot import tool_rows

        return pd.DataFrame(tool_rows(self.tools), columns=["plugin_group", "tool", "description", "parameters"])

    def pairwise(self) -> list[PairedComparison]:
        """Every pair of permutations sharing runs, Holm-adjusted; reads the rows only with 2+ permutations."""
        from ..stats.compare import pairwise

        return pairwise(self.details) if len(self._tallies().names("permutation_name")) > 1 else []

    def to_pandas(self) -> pd.DataFrame:
        """The detail rows as a DataFrame (``details_df``)."""
        return self.details_df

    @property
    def details_df(self) -> pd.DataFrame:
        """The detail rows as a DataFrame; stored rows come through one SQL query."""
        import pandas as pd

        if isinstance(self.details, StoredRows):
            return _stored_frame(self.details)
        return pd.DataFrame([d.to_dict() for d in self.details], columns=list(_FIELDS))

    @property
    def repeats_df(self) -> pd.DataFrame:
        """Per permutation x test case x language: repeats, passes, pass rate and interval, pass@k, pass^k, flaky."""
        import pandas as pd

        from ..stats.repeats import flat_repeat_table, repeat_table

        columns, rows = flat_repeat_table(repeat_table(self.cells()))
        return pd.DataFrame(rows, columns=columns)

    @property
    def summary_df(self) -> pd.DataFrame:
        """One row per permutation and a final ``(all)`` row."""
        import pandas as pd

        rows = [{"permutation": name, **s} for name, s in self.summary_by("permutation_name").items()]
        rows.append({"permutation": "(all)", **self.summary})
        return pd.DataFrame(rows).set_index("permutation")

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"JobResult({self.job_name!r}, status={self.status!r}, runs={s['total_test_cases']}, "
            f"overall_accuracy={s['overall_accuracy']}, wrong={s['wrong_cases']}, errored={s['errored_cases']})"
        )


_BOOL_FIELDS = tuple(name for name, f in RunDetail.__dataclass_fields__.items() if f.type == "bool")
_JSON_FIELDS = ("plugin_parameters_mapped", "intermediate_steps", "parameter_mismatches", "calls_made",
                "calls_expected", "call_pairings")


def _stored_frame(rows: StoredRows[RunDetail]) -> pd.DataFrame:
    """Stored rows as the detail DataFrame, one column per field read by SQLite (``json_extract``):
    booleans come back as 0/1 and objects as JSON text, so both are turned back here."""
    import json

    import pandas as pd

    sql, params = rows.select(_FIELDS)
    with rows.connect() as conn:
        frame = pd.read_sql_query(sql, conn, params=params)
    for name in _BOOL_FIELDS:
        frame[name] = frame[name].astype(bool)
    for name in _JSON_FIELDS:
        frame[name] = [json.loads(v) if isinstance(v, str) else None for v in frame[name]]
    return frame


def _credit(llm: dict[str, Any]) -> str:
    """``LLMConfig.credit`` of a stored LLM (one written by another version: ``provider[model]``)."""
    from pydantic import ValidationError

    from ..request.models import LLMConfig

    try:
        return LLMConfig.model_validate(llm).credit()
    except ValidationError:
        return f"{llm.get('provider')}[{llm.get('model_name') or 'default'}]"
