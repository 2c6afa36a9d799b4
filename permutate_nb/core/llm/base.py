"""The provider protocol: one chat call in, one parsed answer out.

Providers speak to a model; they neither retry nor cache (``LLMClient`` does both), so a
new provider only has to turn a ``ChatRequest`` into an answer and classify its errors
as ``TransientProviderError`` (worth retrying) or ``ProviderError`` (not).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["ChatRequest", "ChatResult", "ToolCall", "ChatProvider", "sampling_params"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One tool call the model made: the tool's name and its arguments as the model wrote them."""

    name: str
    arguments: str  # the model's JSON text, unparsed: malformed JSON must survive to the row


@dataclass(slots=True)
class ChatResult:
    """A provider's parsed answer: text, tool calls, token counts and the model that answered."""

    content: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str | None = None

    def to_json_dict(self) -> dict[str, Any]:
        """The answer as JSON for the response cache."""
        return {
            "content": self.content,
            "tool_calls": [[c.name, c.arguments] for c in self.tool_calls],
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "model": self.model,
        }

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> ChatResult:
        """The answer back from its response-cache JSON."""
        return cls(
            content=data.get("content"),
            tool_calls=[ToolCall(n, a) for n, a in data.get("tool_calls", [])],
            prompt_tokens=data.get("prompt_tokens", 0),
            completion_tokens=data.get("completion_tokens", 0),
            model=data.get("model"),
        )


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A chat call. ``tools_json`` is the pre-serialised OpenAI ``tools`` array (built once per group)."""

    messages: tuple[dict[str, Any], ...]
    tools_json: str | None = None
    tools_digest: str | None = None  # stands for tools_json in cache keys
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None


class ChatProvider(Protocol):
    """What the engine needs of a model endpoint."""

    #: identifies the endpoint and model for the response cache, e.g. ``"OpenAIChat|https://...|gpt-4o"``
    identity: str
    #: the model name used for pricing
    model: str

    async def chat(self, request: ChatRequest, timeout: float) -> ChatResult:
        """Send ``request`` to the model and parse its answer; raise ``TransientProviderError`` to be retried."""
        ...

    def cache_payload(self, request: ChatRequest) -> str:
        """Everything besides ``identity`` that changes the answer, as text (for the cache key)."""
        ...

    async def aclose(self) -> None:
        """Close the provider's connections (called once, when the job ends)."""
        ...


_SAMPLING_KEYS = ("temperature", "max_tokens", "top_p", "frequency_penalty", "presence_penalty", "n")


def sampling_params(llm: Any) -> dict[str, Any]:
    """The chat-completions sampling parameters a permutation set (None means: server default)."""
    return {key: value for key in _SAMPLING_KEYS if (value := getattr(llm, key, None)) is not None}
