"""A provider that serves one call at a time (the embedded model) is shared by every client of a job.

With ``--provider local`` each permutation has its own ``LLMClient``; they must queue at one gate
(before their deadline starts), not race for the model's lock with their clocks running.
"""

from __future__ import annotations

import asyncio

from permutate_nb.core.llm.base import ChatRequest, ChatResult
from permutate_nb.core.llm.client import LLMClient


class OneAtATime:
    """A provider double that records how many of its calls (across instances sharing ``busy``) overlap."""

    max_concurrency = 1
    model = "m"

    def __init__(self, identity: str, busy: dict[str, int]) -> None:
        self.identity, self._busy = identity, busy

    async def chat(self, request: ChatRequest, timeout: float) -> ChatResult:
        self._busy["now"] += 1
        self._busy["most"] = max(self._busy["most"], self._busy["now"])
        await asyncio.sleep(0)  # let every other waiting call try to enter
        await asyncio.sleep(0)
        self._busy["now"] -= 1
        return ChatResult(content="ok")

    def cache_payload(self, request: ChatRequest) -> str:
        return ""

    async def aclose(self) -> None:
        return None


def _calls(identities: list[str]) -> int:
    busy = {"now": 0, "most": 0}
    clients = [LLMClient(OneAtATime(identity, busy), cache=None, max_retries=0, timeout=5) for identity in identities]

    async def go() -> None:
        request = ChatRequest(messages=({"role": "user", "content": "hi"},))
        await asyncio.gather(*(client.chat(request) for client in clients for _ in range(4)))

    asyncio.run(go())
    return busy["most"]


def test_clients_of_one_model_take_turns() -> None:
    assert _calls(["local|m.gguf|1", "local|m.gguf|1", "local|m.gguf|1"]) == 1


def test_clients_of_different_models_do_not_wait_for_each_other() -> None:
    assert _calls(["local|a.gguf|1", "local|b.gguf|1"]) == 2
