"""The engine names what it does before the runs start: reading plugins, loading the model, translating N prompts."""

from __future__ import annotations

from typing import Any

import permutate_nb as pn

from ..helpers import klarna_request


class Stages(pn.Reporter):
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def stage(self, name: str, detail: str = "") -> None:
        self.events.append((name, detail))

    def job_started(self, event: pn.JobStarted) -> None:
        self.events.append(("running", str(event.total_runs)))


def test_translation_is_a_named_stage(scripted: Any) -> None:
    scripted.set_script({"default": {"text": "Muéstrame camisetas"}})
    reporter = Stages()
    pn.run(klarna_request(base_url=scripted.base_url, auto_translate_to_languages=["English", "Spanish"]),
           reporter=reporter, cache=False)
    assert reporter.events == [("reading plugins", "1 plugin"), ("translating", "2 prompts"), ("running", "4")]


def test_the_local_model_loads_as_its_own_stage() -> None:
    data = klarna_request()
    data["test_cases"] = data["test_cases"][:1]
    data["permutations"][0]["llm"]["max_tokens"] = 48
    reporter = Stages()
    result = pn.run(data, provider="local", reporter=reporter)
    assert reporter.events == [("reading plugins", "1 plugin"), ("loading the model", "SmolLM2-135M-Instruct"),
                               ("running", "1")]
    # --provider local: the row names the model that ran, and the settings it understands were kept
    assert result.details[0].permutation_summary == "local[SmolLM2-135M-Instruct] - OpenAI[default]"
    assert result.permutations[0]["llm"]["max_tokens"] == 48
