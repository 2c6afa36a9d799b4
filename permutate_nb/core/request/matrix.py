"""The run matrix: permutation x test case x language x repeat, in that order (a run's index).

A ``RunSpec`` is small, self-contained and serialisable, so a later executor can hand
slices of the list to other processes or machines.

Runs are *scheduled* in another order (``run_order``): repeat, then test case, then language,
then permutation, so every permutation answers the same case in the same language before the
next one starts. A job stopped early is then a balanced sample, and its partial paired
comparison is meaningful.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import overload

from .models import JobRequest

__all__ = ["RunSpec", "expand_matrix", "languages_of", "run_order"]


@dataclass(frozen=True, slots=True)
class RunSpec:
    """One run of the matrix: its index, coordinates and the prompt in its language."""

    index: int
    permutation: int
    test_case: int
    language: str
    repeat: int
    prompt: str | None  # None: the translation failed (the run is recorded as failed)


def languages_of(request: JobRequest) -> list[str]:
    """The job's languages in the config's order, each once."""
    seen: list[str] = []
    for language in request.config.auto_translate_to_languages:
        if language not in seen:
            seen.append(language)
    return seen


class Matrix(Sequence[RunSpec]):
    """All runs in matrix order, each ``RunSpec`` made from its index when asked: a job of a million
    runs holds no million objects."""

    def __init__(self, request: JobRequest, prompts: Mapping[tuple[int, str], str | None]) -> None:
        self._languages = languages_of(request)
        self._cases, self._repeats = len(request.test_cases), request.config.repeats
        self._size = len(request.permutations) * self._cases * len(self._languages) * self._repeats
        self._prompts = prompts

    def __len__(self) -> int:
        return self._size

    @overload
    def __getitem__(self, index: int) -> RunSpec: ...

    @overload
    def __getitem__(self, index: slice) -> list[RunSpec]: ...

    def __getitem__(self, index: int | slice) -> RunSpec | list[RunSpec]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._size))]
        if index < 0:
            index += self._size
        if not 0 <= index < self._size:
            raise IndexError(f"run {index} out of range")
        rest, repeat = divmod(index, self._repeats)
        rest, language = divmod(rest, len(self._languages))
        permutation, case = divmod(rest, self._cases)
        name = self._languages[language]
        return RunSpec(index, permutation, case, name, repeat, self._prompts[(case, name)])


def expand_matrix(request: JobRequest, prompts: Mapping[tuple[int, str], str | None]) -> Matrix:
    """All runs in matrix order; ``prompts`` maps (test case, language) to the prompt to send."""
    return Matrix(request, prompts)


def run_order(permutations: int, cases: int, languages: int, repeats: int) -> Iterator[int]:
    """Run indices (matrix order) interleaved: per repeat, case and language, every permutation in turn."""
    for repeat in range(repeats):
        for case in range(cases):
            for language in range(languages):
                for permutation in range(permutations):
                    yield ((permutation * cases + case) * languages + language) * repeats + repeat
