"""The run matrix: permutation x test case x language x repeat, in that order.

A ``RunSpec`` is small, self-contained and serialisable, so a later executor can hand
slices of the list to other processes or machines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .request import JobRequest

__all__ = ["RunSpec", "expand_matrix", "languages_of"]


@dataclass(frozen=True, slots=True)
class RunSpec:
    index: int
    permutation: int
    test_case: int
    language: str
    repeat: int
    prompt: str | None  # None: the translation failed (the run is recorded as failed)


def languages_of(request: JobRequest) -> list[str]:
    seen: list[str] = []
    for language in request.config.auto_translate_to_languages:
        if language not in seen:
            seen.append(language)
    return seen


def expand_matrix(request: JobRequest, prompts: Mapping[tuple[int, str], str | None]) -> list[RunSpec]:
    """All runs in matrix order; ``prompts`` maps (test case, language) to the prompt to send."""
    specs: list[RunSpec] = []
    languages = languages_of(request)
    for p in range(len(request.permutations)):
        for c in range(len(request.test_cases)):
            for language in languages:
                for r in range(request.config.repeats):
                    specs.append(RunSpec(len(specs), p, c, language, r, prompts[(c, language)]))
    return specs
