"""``--provider NAME``: put one provider behind every permutation (and the translator).

Only what the new provider cannot use is replaced. For ``local`` (the embedded model) the
sampling settings and ``model_path`` stay; the endpoint, key, transport and the remote model's
name go, so rows, bars and tables name the model that really ran. ``replaces`` keeps the name
the request gave, so plots, tables and exports credit both: ``gpt-4o-mini → local SmolLM2-135M-Instruct``.
"""

from __future__ import annotations

from typing import Any

from .models import JobRequest, LLMConfig

__all__ = ["override_provider", "LOCAL_KEEPS"]

#: LLMConfig fields the embedded model understands (everything else is for a remote endpoint).
LOCAL_KEEPS = ("temperature", "max_tokens", "top_p", "frequency_penalty", "presence_penalty", "model_path")


def _as_local(llm: LLMConfig) -> LLMConfig:
    if llm.provider == "local":
        return llm
    kept = {key: getattr(llm, key) for key in LOCAL_KEEPS if getattr(llm, key) is not None}
    return LLMConfig(provider="local", replaces=llm.replaces or llm.answered_by(), **kept)  # model_name: the default


def _switched(llm: LLMConfig, provider: str) -> LLMConfig:
    """The LLM on ``provider``, remembering (``replaces``) the model the request named, so views credit both."""
    if provider == "local":
        return _as_local(llm)
    if provider == llm.provider:
        return llm
    return llm.model_copy(update={"provider": provider, "replaces": llm.replaces or llm.summary()})


def override_provider(request: JobRequest, provider: str) -> JobRequest:
    """The request with every permutation's LLM (and ``config.translator``) switched to ``provider``."""
    perms = [p.model_copy(update={"llm": _switched(p.llm, provider)}) for p in request.permutations]
    update: dict[str, Any] = {"permutations": perms}
    if request.config.translator is not None:  # the translator follows, so --provider local stays offline
        update["config"] = request.config.model_copy(update={"translator": _switched(request.config.translator, provider)})
    return request.model_copy(update=update)
