"""Jobs raise the young-generation threshold while they run and put the process's own back."""

from __future__ import annotations

import gc
from typing import Any

import permutate_nb as pn
from permutate_nb.core.jobs.events import Reporter
from permutate_nb.core.jobs.gc_pause import YOUNG_THRESHOLD, fewer_collections

from ..helpers import klarna_request


def test_thresholds_are_raised_while_any_job_runs_and_restored_after_the_last() -> None:
    before = gc.get_threshold()
    with fewer_collections():
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
        with fewer_collections():  # a second job in the same process (a server)
            pass
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD  # the first still runs
    assert gc.get_threshold() == before


def test_a_switched_off_collector_stays_off() -> None:
    before = gc.get_threshold()
    gc.set_threshold(0)
    try:
        with fewer_collections():
            assert gc.get_threshold()[0] == 0
        assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*before)


def test_a_job_runs_with_fewer_collections_and_gives_them_back(scripted: Any) -> None:
    scripted.set_script({"default": {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}}})
    seen: list[int] = []

    class Watch(Reporter):
        def run_started(self, index: int) -> None:
            seen.append(gc.get_threshold()[0])

    before = gc.get_threshold()
    result = pn.run(klarna_request(base_url=scripted.base_url, cache=False), reporter=Watch())
    assert result.summary["total_test_cases"] == 2 and seen == [YOUNG_THRESHOLD] * 2
    assert gc.get_threshold() == before
