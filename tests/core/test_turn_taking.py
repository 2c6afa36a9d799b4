"""A provider that serves one call at a time (the embedded model) is shared by every client of a job.

With ``--provider local`` each permutation has its own ``LLMClient``; they must queue at one gate
(before their deadline starts), not race for the model's lock with their clocks running.
"""

from __future__ import annotations

import asyncio

from permutate_nb.core.jobs.deadline import Deadlines
from permutate_nb.core.llm.base import ChatRequest, ChatResult
from permutate_nb.core.llm.client import LLMClient


class OneAtATime:
    """A provider double that records how many of its calls (across instances sharing ``busy``) overlap."""

    max_concurrency = 1
    model = "m"

    def __init__(self, identity: str, busy: dict[str, int], hold_until: float = 0.0) -> None:
        self.identity, self._busy, self.hold_until = identity, busy, hold_until

    async def chat(self, request: ChatRequest, timeout: float) -> ChatResult:
        loop = asyncio.get_running_loop()
        while loop.time() < self.hold_until:  # the first call keeps the model this long
            await asyncio.sleep(0.02)
        self.hold_until = 0.0
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


REQUEST = ChatRequest(messages=({"role": "user", "content": "hi"},))


def _calls(identities: list[str]) -> int:
    busy = {"now": 0, "most": 0}
    clients = [LLMClient(OneAtATime(identity, busy), cache=None, max_retries=0, timeout=5) for identity in identities]

    async def go() -> None:
        await asyncio.gather(*(client.chat(REQUEST) for client in clients for _ in range(4)))

    asyncio.run(go())
    return busy["most"]


def test_clients_of_one_model_take_turns() -> None:
    assert _calls(["local|m.gguf|1", "local|m.gguf|1", "local|m.gguf|1"]) == 1


def test_clients_of_different_models_do_not_wait_for_each_other() -> None:
    assert _calls(["local|a.gguf|1", "local|b.gguf|1"]) == 2


def test_waiting_for_a_turn_does_not_count_against_the_deadline() -> None:
    """A call outside any run holds the model past the runs' 0.2 s deadlines; the runs still get their turn."""
    seconds = 0.2

    async def go() -> list[bool]:
        deadlines = Deadlines(seconds)
        sweeper = asyncio.create_task(deadlines.sweep())
        provider = OneAtATime("local|m.gguf|1", {"now": 0, "most": 0})
        client = LLMClient(provider, cache=None, max_retries=0, timeout=5)
        provider.hold_until = asyncio.get_running_loop().time() + 3 * seconds
        holder = asyncio.create_task(client.chat(REQUEST))
        await asyncio.sleep(0)  # the holder takes the gate first

        async def run() -> bool:
            clock = deadlines.clock()
            clock.start(seconds)
            outcome = await client.chat(REQUEST)
            return outcome.result.content == "ok" and not clock.stop()

        runs = [asyncio.create_task(run()) for _ in range(3)]
        done = await asyncio.gather(holder, *runs)
        sweeper.cancel()
        return done[1:]

    assert asyncio.run(go()) == [True, True, True]
