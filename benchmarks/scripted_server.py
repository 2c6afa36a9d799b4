"""The scripted OpenAI server's own cost: its CPU per request and the requests per second it answers.

Why: ``throughput.py`` measures the engine against this server, with both on the same cores,
so every millisecond the server spends on a request is taken from the engine's efficiency.
This script measures the server alone, from outside: the server runs in its own process (as in
``throughput.py``); an aiohttp client sends the chat request the engine sends (a Klarna-sized
tool list, about 1.5 KB) over ``--concurrency`` keep-alive connections; the server's CPU is
read from ``/proc/<pid>/stat`` (Linux) just before the first and just after the last request,
so its start-up is not counted.

    python benchmarks/scripted_server.py                       # 4,000 requests, concurrency 32, delay 0 and 50 ms
    python benchmarks/scripted_server.py --requests 10000 --delays 0
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from typing import Any

from throughput import start_server

_DESCRIPTION = ("A precise query that matches one very small category or product that needs to be searched for "
                "to find the products the user is looking for. ") * 3
BODY: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": "Show me 1 T shirts from Klarna"}],
    "tools": [{"type": "function", "function": {
        "name": "productsUsingGET", "description": "Klarna Shopping: API for fetching Klarna product information",
        "parameters": {"type": "object", "required": ["q"], "properties": {
            "q": {"type": "string", "description": _DESCRIPTION},
            "size": {"type": "integer", "description": "number of products returned"},
            "min_price": {"type": "integer", "description": "(Optional) Minimum price in local currency."},
            "max_price": {"type": "integer", "description": "(Optional) Maximum price in local currency."},
        }}}}],
    "tool_choice": "auto", "temperature": 0.0,
}


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process, from /proc (fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def fire(base_url: str, requests: int, concurrency: int) -> float:
    """Send ``requests`` chat calls over ``concurrency`` connections; returns the wall seconds."""
    import aiohttp

    payload = json.dumps(BODY).encode()
    headers = {"content-type": "application/json", "authorization": "Bearer x"}
    left = requests

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                async with session.post(f"{base_url}/chat/completions", data=payload, headers=headers) as reply:
                    assert reply.status == 200, reply.status
                    await reply.read()

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - start


def measure(requests: int, concurrency: int, delay: float) -> dict[str, Any]:
    server, base_url = start_server(delay)
    try:
        wall_cpu: list[float] = []

        async def run() -> float:
            await fire(base_url, concurrency * 4, concurrency)  # warm-up: the server's first calls, not counted
            cpu0 = cpu_seconds(server.pid)
            wall = await fire(base_url, requests, concurrency)
            wall_cpu.append(cpu_seconds(server.pid) - cpu0)
            return wall

        wall = asyncio.run(run())
        return {"requests": requests, "concurrency": concurrency, "delay_s": delay, "wall_s": round(wall, 3),
                "requests_per_s": round(requests / wall, 1),
                "server_cpu_ms_per_request": round(wall_cpu[0] / requests * 1000, 4)}
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--delays", default="0,0.05", help="comma-separated reply delays in seconds")
    args = parser.parse_args()
    for delay in (float(d) for d in args.delays.split(",")):
        print(json.dumps(measure(args.requests, args.concurrency, delay)), flush=True)


if __name__ == "__main__":
    main()
