"""The embedded model's thread count follows the machine's load (llama.cpp's threads wait for each other)."""

from __future__ import annotations

import os

import pytest

from permutate_nb.core.llm import local


@pytest.mark.parametrize(("load", "threads"), [(0.5, 4), (8.0, 4), (8.1, 1)])
def test_one_thread_when_the_machine_is_oversubscribed(monkeypatch: pytest.MonkeyPatch, load: float, threads: int) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    assert local._threads() == threads


def test_omp_num_threads_is_kept_whatever_the_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.setattr(os, "getloadavg", lambda: (50.0, 50.0, 50.0))
    assert local._threads() == 3
