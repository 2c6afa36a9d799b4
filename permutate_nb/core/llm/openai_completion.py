"""Provider ``OpenAI``: the legacy completions endpoint (``POST /v1/completions``).

Completion models (``gpt-3.5-turbo-instruct``, ``davinci-002``, base models behind vLLM or
llama.cpp) take a prompt and return text: there are no tools. Selectors that need a tool
choice from them ask for it in the prompt and parse the answer (``selectors/prompt_selector.py``).
It shares the chat provider's endpoint rules (key, base URL), session pool and error mapping.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from ...errors import ProviderError
from .base import ChatRequest, ChatResult, sampling_params
from .openai_chat import SessionPool, post_json, resolve_endpoint, token_count

__all__ = ["OpenAICompletionProvider", "render_prompt", "DEFAULT_COMPLETION_MODEL"]

DEFAULT_COMPLETION_MODEL = "gpt-3.5-turbo-instruct"


def render_prompt(messages: tuple[dict[str, Any], ...]) -> str:
    """One user message is the prompt as is; a conversation becomes ``Role: text`` lines."""
    if len(messages) == 1 and messages[0].get("role") == "user":
        return str(messages[0].get("content") or "")
    lines = [f"{str(m.get('role', 'user')).capitalize()}: {m.get('content') or ''}" for m in messages]
    return "\n\n".join(lines) + "\n\nAssistant:"


class OpenAICompletionProvider:
    """Text completions over the OpenAI wire format; tools in a request are ignored."""

    def __init__(self, llm: Any, pool: SessionPool | None = None) -> None:
        self.base_url, api_key = resolve_endpoint(llm.base_url, llm.api_key_env)
        self.model = llm.model_name or DEFAULT_COMPLETION_MODEL
        self.identity = f"OpenAI|{self.base_url}|{self.model}"
        self._url = f"{self.base_url}/completions"
        self._headers = {"Content-Type": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        params = sampling_params(llm)
        if llm.best_of is not None:
            params["best_of"] = llm.best_of
        self._params = {**params, **(llm.extra_body or {})}
        self._pool = pool

    def _body(self, request: ChatRequest) -> dict[str, Any]:
        return {"model": self.model, "prompt": render_prompt(request.messages), **self._params}

    def cache_payload(self, request: ChatRequest) -> str:
        """The completions request body as text: the same text means the same answer."""
        return json.dumps(self._body(request), sort_keys=True, ensure_ascii=False)

    async def chat(self, request: ChatRequest, timeout: float) -> ChatResult:
        """One completions call on the rendered prompt; its text is the answer (no tool calls on this endpoint)."""
        if self._pool is None:
            self._pool = SessionPool(8)
        session = self._pool.get(self.base_url)
        raw = await post_json(session, self._url, json.dumps(self._body(request)).encode(), self._headers,
                              aiohttp.ClientTimeout(total=timeout), self._pool.max_response_bytes)
        try:
            data = json.loads(raw)
            text = data["choices"][0]["text"]
            if not isinstance(text, str):
                raise TypeError(text)
        except (ValueError, KeyError, IndexError, TypeError, RecursionError):
            raise ProviderError(f"{self._url} answered without choices[0].text: {raw[:160]!r}") from None
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        return ChatResult(
            content=text,
            prompt_tokens=token_count(usage.get("prompt_tokens")),
            completion_tokens=token_count(usage.get("completion_tokens")),
            model=data.get("model") if isinstance(data.get("model"), str) else None,
        )

    async def aclose(self) -> None:
        """Nothing to close: the session pool belongs to the job."""
        return None
