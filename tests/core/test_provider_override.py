"""``--provider local`` keeps what the embedded model understands and drops only the rest."""

from __future__ import annotations

from pathlib import Path

import permutate_nb as pn
from permutate_nb.core.llm.local import default_model_path

from ..helpers import klarna_request


def _request(**llm: object) -> dict:
    data = klarna_request(base_url="http://127.0.0.1:9/v1")
    data["permutations"][0]["llm"].update(llm)
    return data


def test_local_keeps_sampling_settings_and_drops_the_endpoint() -> None:
    data = _request(max_tokens=64, temperature=0.7, top_p=0.9, api_key_env="MY_KEY", transport="sdk", n=1)
    llm = pn.validate(data, provider="local").request.permutations[0].llm
    assert (llm.provider, llm.temperature, llm.max_tokens, llm.top_p) == ("local", 0.7, 64, 0.9)
    assert (llm.base_url, llm.api_key_env, llm.transport, llm.n) == (None, None, "http", None)
    assert llm.model_name == "SmolLM2-135M-Instruct"  # the model that runs, not gpt-4o-mini


def test_local_block_stays_as_written_and_own_gguf_is_kept(tmp_path: Path) -> None:
    data = _request()
    data["permutations"][0]["llm"] = {"provider": "local", "temperature": 0.7, "max_tokens": 64,
                                      "model_path": str(default_model_path()), "model_name": "mine"}
    llm = pn.validate(data, provider="local").request.permutations[0].llm
    assert (llm.temperature, llm.max_tokens, llm.model_path, llm.model_name) == (0.7, 64, str(default_model_path()), "mine")
    data["permutations"][0]["llm"] = {"provider": "OpenAIChat", "model_name": "gpt-4o", "model_path": str(default_model_path())}
    llm = pn.validate(data, provider="local").request.permutations[0].llm
    assert (llm.model_path, llm.model_name) == (str(default_model_path()), Path(default_model_path()).stem)


def test_translator_follows_and_the_summary_names_the_local_model() -> None:
    data = _request(max_tokens=48)
    data["config"]["translator"] = {"provider": "OpenAIChat", "model_name": "gpt-4o", "temperature": 0.2}
    data["test_cases"] = data["test_cases"][:1]
    plan = pn.validate(data, provider="local")
    assert plan.request.config.translator.model_dump(exclude_none=True) == {
        "provider": "local", "model_name": "SmolLM2-135M-Instruct", "temperature": 0.2, "transport": "http",
        "replaces": "gpt-4o"}  # credited: the model the request named
    assert plan.request.permutations[0].summary() == "local[SmolLM2-135M-Instruct] - OpenAI[default]"  # rows' summary


def test_other_providers_only_switch_the_provider() -> None:
    llm = pn.validate(_request(max_tokens=64), provider="OpenAI").request.permutations[0].llm
    assert (llm.provider, llm.model_name, llm.max_tokens, llm.base_url) == ("OpenAI", "gpt-4o-mini", 64, "http://127.0.0.1:9/v1")
    assert llm.credit() == "OpenAIChat[gpt-4o-mini] → OpenAI[gpt-4o-mini]"
