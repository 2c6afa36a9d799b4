"""Languages: English as written, pinned translations, and ``config.translator`` for the rest."""

from __future__ import annotations

from typing import Any

import pytest

import permutate_nb as pn

from ..helpers import klarna_request

GOOD = {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}}


def test_translator_block_translates_once_per_case_and_language(scripted: Any) -> None:
    scripted.set_script({"rules": [
        {"match": "into German", "responses": [{"text": "Zeig mir 5 T-Shirts"}]},
        {"match": "into Spanish", "responses": [{"text": "Busca 5 camisetas"}]},
        {"responses": [GOOD]},
    ]})
    request = klarna_request(base_url=scripted.base_url, cache=False, repeats=2,
                             auto_translate_to_languages=["English", "Spanish", "German"],
                             translator={"provider": "OpenAIChat", "model_name": "translator-model",
                                         "base_url": scripted.base_url})
    request["test_cases"][0]["translations"] = {"Spanish": "Muéstrame 5 camisetas de Klarna"}
    result = pn.run(request)
    translations = [r["json"] for r in scripted.requests if r["json"]["model"] == "translator-model"]
    assert len(translations) == 3  # (case 1, German), (case 2, Spanish), (case 2, German); pins are not translated
    assert all(t["messages"][0]["content"].startswith("Translate this request into") for t in translations)
    prompts = {(d.test_case_name, d.language): d.prompt for d in result.details}
    assert prompts == {
        ("shirts", "English"): "Show me 5 T shirts from Klarna",
        ("shirts", "Spanish"): "Muéstrame 5 camisetas de Klarna",
        ("shirts", "German"): "Zeig mir 5 T-Shirts",
        ("shirts_params", "English"): "Find 5 T shirts please",
        ("shirts_params", "Spanish"): "Busca 5 camisetas",
        ("shirts_params", "German"): "Zeig mir 5 T-Shirts",
    }
    sent = [r["json"]["messages"][0]["content"] for r in scripted.requests if r["json"]["model"] == "gpt-4o-mini"]
    assert sorted(set(sent)) == sorted(set(prompts.values())) and len(sent) == 12  # the prompt actually sent
    by_language = result.to_dict()["summary_by_language"]
    assert set(by_language) == {"English", "Spanish", "German"}
    assert all(s["total_test_cases"] == 4 and s["overall_accuracy"] == 100.0 for s in by_language.values())


def test_translator_is_checked_only_when_needed() -> None:
    request = klarna_request(translator={"provider": "Cohere", "model_name": "command"})
    pn.validate(request)  # English only: nothing to translate
    request["config"]["auto_translate_to_languages"] = ["English", "French"]
    with pytest.raises(pn.ConfigurationError, match=r"config.translator.provider: unknown provider 'Cohere'"):
        pn.validate(request)


def test_provider_local_replaces_the_translator_too() -> None:
    pytest.importorskip("llama_cpp")
    request = klarna_request(translator={"provider": "OpenAIChat", "model_name": "gpt-4o"},
                             auto_translate_to_languages=["English", "French"])
    plan = pn.validate(request, provider="local")
    assert plan.request.config.translator is not None and plan.request.config.translator.provider == "local"
    assert all(p.llm.provider == "local" for p in plan.request.permutations)
