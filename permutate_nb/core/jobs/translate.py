"""Per-language prompts for ``auto_translate_to_languages``.

English, the language test cases are written in, runs as written; a translation pinned on
the test case (``translations: {Spanish: "..."}``) is used as is; any other language is
translated once per test case by the translator model, through the response cache.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ...errors import PermutateError
from ..llm.base import ChatRequest
from ..llm.client import LLMClient
from ..request.models import JobRequest, TestCase

__all__ = ["SOURCE_LANGUAGE", "build_prompts", "untranslated_prompt"]

SOURCE_LANGUAGE = "English"
_INSTRUCTION = (
    "Translate this request into {language}. Keep names, numbers and product terms. "
    "Reply with the translation only.\n\n{text}"
)

def untranslated_prompt(case: TestCase, language: str) -> str | None:
    """The prompt for ``language`` without a model (pinned, or the source language), else None."""
    if language in case.translations:
        return case.translations[language]
    if language.strip().lower() == SOURCE_LANGUAGE.lower():
        return case.prompt
    return None


async def translate(client: LLMClient, text: str, language: str) -> str:
    request = ChatRequest(
        messages=({"role": "user", "content": _INSTRUCTION.format(language=language, text=text)},)
    )
    outcome = await client.chat(request)
    translated = (outcome.result.content or "").strip()
    if not translated:
        raise PermutateError(f"the translator returned no text for {language}")
    return translated

async def build_prompts(
    request: JobRequest,
    languages: list[str],
    translator: Callable[[], LLMClient],
    *,
    concurrency: int = 8,
    on_start: Callable[[int], None] = lambda todo: None,
) -> tuple[dict[tuple[int, str], str | None], dict[tuple[int, str], str]]:
    """Prompts per (test case, language), and the errors of translations that failed.

    ``on_start(n)`` is told how many prompts are to be translated, before the first one is.
    """
    prompts: dict[tuple[int, str], str | None] = {}
    errors: dict[tuple[int, str], str] = {}
    todo: list[tuple[int, str]] = []
    for c, case in enumerate(request.test_cases):
        for language in languages:
            prompt = untranslated_prompt(case, language)
            if prompt is None:
                todo.append((c, language))
            else:
                prompts[(c, language)] = prompt
    if not todo:
        return prompts, errors
    on_start(len(todo))
    client = translator()
    gate = asyncio.Semaphore(concurrency)

    async def one(key: tuple[int, str]) -> None:
        async with gate:
            try:
                prompts[key] = await translate(client, request.test_cases[key[0]].prompt, key[1])
            except PermutateError as exc:
                prompts[key] = None
                errors[key] = f"translation to {key[1]} failed: {exc}"

    await asyncio.gather(*(one(key) for key in todo))
    return prompts, errors
