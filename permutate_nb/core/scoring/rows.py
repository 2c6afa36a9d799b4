"""Detail rows: one run's outcome (a selection, or the error that ended it) scored into a RunDetail."""

from __future__ import annotations

import json
from typing import Any

from ..request.matrix import RunSpec
from ..request.models import JobRequest, TestCase
from ..selectors.base import Selection
from .calls import ExpectedCallSpec, score_calls
from .detail import RunDetail
from .similarity import match_score
from .steps import StepScores, score_selection

__all__ = ["failed_row", "scored_row", "base_row", "RAW_RESPONSE_LIMIT", "capped", "ScoreMemo", "expected_calls_of"]

#: Characters of a reply kept in a row's ``raw_response`` and ``final_output`` (scores use all of it):
#: rows live in memory and in the job store.
RAW_RESPONSE_LIMIT = 64 * 1024


def capped(text: str | None, limit: int = RAW_RESPONSE_LIMIT) -> str | None:
    """``text`` up to ``limit`` characters, with a note saying how much was cut."""
    if text is None or len(text) <= limit:
        return text
    return f"{text[:limit]}\n[... truncated: {len(text):,} characters in all, the first {limit:,} kept]"


def _row(request: JobRequest, spec: RunSpec, completed: bool, elapsed: float, memo: ScoreMemo | None = None,
         **fields: Any) -> RunDetail:
    perm = request.permutations[spec.permutation]
    case = request.test_cases[spec.test_case]
    return RunDetail(
        permutation_name=perm.name,
        permutation_summary=perm.summary() if memo is None else memo.summary(spec.permutation, perm),
        test_type=case.type,
        test_case_name=case.name,
        is_run_completed=completed,
        language=spec.language,
        prompt=spec.prompt or case.prompt,
        response_time_sec=round(elapsed, 4),
        repeat=spec.repeat,
        **fields,
    )


base_row = _row  # the fields every row has (a conversation's row adds its own)


def expected_calls_of(case: TestCase) -> list[ExpectedCallSpec]:
    """The calls a test case expects: its ``expected_calls``, its one expected call, or none."""
    if case.expected_calls is not None:
        return [ExpectedCallSpec(c.plugin, c.api, c.method, c.parameters) for c in case.expected_calls]
    if case.expected_plugin_used is None or case.expected_api_used is None:
        return []
    return [ExpectedCallSpec(case.expected_plugin_used, case.expected_api_used, case.expected_method,
                             case.expected_parameters)]


def _expects_parameters(case: TestCase) -> bool:
    return any(c.parameters is not None for c in expected_calls_of(case))


def failed_row(request: JobRequest, spec: RunSpec, error: str, elapsed: float, attempts: int) -> RunDetail:
    """A run that ended in an error: every step false, 0% of parameters, nothing billed."""
    case = request.test_cases[spec.test_case]
    return _row(request, spec, False, elapsed, llm_api_cost=0.0, attempts=attempts, error=error,
                parameter_mapped_percentage=0.0 if _expects_parameters(case) else None,
                calls_expected=[c.to_dict() for c in expected_calls_of(case)] if case.multi_call else None)


#: ``json.dumps(arguments, sort_keys=True, default=str)`` with its encoder made once: the memo key of
#: every run (``json.dumps`` with any option builds a new encoder a call, a third of its cost here)
_arguments_key = json.JSONEncoder(sort_keys=True, default=str).encode

#: Scores remembered per job (``ScoreMemo``) before the memo starts afresh: bounded memory, and
#: repeats of a case with the same answer (a cached re-run, a model at temperature 0) score once.
MEMO_SIZE = 4096


class ScoreMemo:
    """What a job's rows repeat, worked out once: scores per (case, answer), whether a case expects
    parameters, each permutation's summary. A job keeps one; rows of a job without one compute all."""

    __slots__ = ("scores", "_expects", "_summaries")

    def __init__(self) -> None:
        self.scores: dict[tuple[Any, ...], StepScores] = {}
        self._expects: dict[int, bool] = {}
        self._summaries: dict[int, str] = {}

    def expects_parameters(self, index: int, case: TestCase) -> bool:
        """Whether test case ``index`` expects parameters (computed once per case)."""
        known = self._expects.get(index)
        if known is None:
            known = self._expects[index] = _expects_parameters(case)
        return known

    def summary(self, index: int, permutation: Any) -> str:
        """Permutation ``index``'s summary (computed once per permutation)."""
        known = self._summaries.get(index)
        if known is None:
            known = self._summaries[index] = permutation.summary()
        return known


def scored_row(request: JobRequest, spec: RunSpec, sel: Selection, elapsed: float,
               memo: ScoreMemo | None = None) -> RunDetail:
    """The run's scored ``RunDetail``: its selection scored against the test case (one call or several)."""
    case = request.test_cases[spec.test_case]
    calls = sel.all_calls()
    pairings = None
    multi_call = case.multi_call
    if multi_call:
        verdict = score_calls(expected_calls_of(case), calls, test_type=case.type, mode=request.matching_mode(case),
                              call_order=case.call_order, expect_no_call=case.expect_no_call,
                              expect_any_call=case.expect_any_call, language=request.language(case))
        pairings = [p.to_dict() for p in verdict.pairings]
        scores: StepScores | None = StepScores(verdict.plugin_detected, verdict.operation_found,
                                               verdict.parameters_mapped, verdict.parameter_percentage,
                                               verdict.passed, verdict.mismatches)
        key = None  # the memo's key holds one call
    elif memo is not None:
        arguments = None if sel.arguments is None else _arguments_key(sel.arguments)
        key = (spec.test_case, sel.plugin_id, sel.url, sel.method, id(sel.operation), arguments)
        scores = memo.scores.get(key)
    else:
        key = scores = None
    if scores is None:
        scores = score_selection(
            test_type=case.type,
            expected_plugin=case.expected_plugin_used or "",  # set: validation requires them without expected_calls
            expected_url=case.expected_api_used or "",
            expected_method=case.expected_method,
            expected_parameters=case.expected_parameters,
            plugin_id=sel.plugin_id,
            url=sel.url,
            method=sel.method,
            arguments=sel.arguments,
            mode=request.matching_mode(case),
            schema=sel.operation.parameters if sel.operation else None,
            locations=sel.operation.locations if sel.operation else None,
            language=request.language(case),
        )
        if memo is not None and key is not None:
            if len(memo.scores) >= MEMO_SIZE:
                memo.scores.clear()
            memo.scores[key] = scores
    expects = memo.expects_parameters(spec.test_case, case) if memo is not None else _expects_parameters(case)
    perm = request.permutations[spec.permutation]
    return RunDetail(  # _row's fields and these in one call: every run of a job passes here
        permutation_name=perm.name,
        permutation_summary=perm.summary() if memo is None else memo.summary(spec.permutation, perm),
        test_type=case.type,
        test_case_name=case.name,
        is_run_completed=True,
        language=spec.language,
        prompt=spec.prompt or case.prompt,
        response_time_sec=round(elapsed, 4),
        repeat=spec.repeat,
        final_output=capped(sel.final_output),
        match_score=match_score(sel.final_output, case.expected_response),
        is_plugin_detected=scores.plugin_detected,
        is_plugin_operation_found=scores.operation_found,
        is_plugin_parameter_mapped=scores.parameters_mapped,
        plugin_name=sel.plugin_name,
        plugin_operation=sel.url,
        plugin_parameters_mapped=sel.arguments,
        parameter_mapped_percentage=scores.parameter_percentage,
        parameter_mismatches=[m.to_dict() for m in scores.mismatches] if expects else None,
        total_llm_tokens_used=sel.prompt_tokens + sel.completion_tokens if sel.total_tokens is None else sel.total_tokens,
        llm_api_cost=sel.cost,
        plugin_method=sel.method,
        passed=scores.passed,
        cached=sel.cached,
        attempts=sel.attempts,
        prompt_tokens=sel.prompt_tokens,
        completion_tokens=sel.completion_tokens,
        error=sel.note,
        raw_response=capped(sel.raw_response),
        intermediate_steps=sel.intermediate_steps,
        operation_status=sel.operation_status,
        calls_made=[c.to_dict() for c in calls],
        calls_expected=[c.to_dict() for c in expected_calls_of(case)] if multi_call else None,
        call_pairings=pairings,
    )
