"""A scripted OpenAI-compatible HTTP server for tests, benchmarks and notebooks.

Why it exists: evaluating tool selection needs an LLM endpoint whose answers are known in
advance (a given tool call, malformed arguments, a 429 then success, a slow reply). A real
model is neither deterministic nor cheap, so this server replies from a *script*.

It runs on ``aiohttp.web`` (already a dependency), whose low-level server does the HTTP:
keep-alive, pipelining (replies in request order), ``Content-Length`` and chunked bodies, and
400s for malformed requests. Benchmarks push ~700 req/s through it on the same cores as the code
under test, so it stays cheap per request: one handler and no router, middleware or access log.

Endpoints: ``POST /v1/chat/completions``, ``POST /v1/completions`` (legacy) and
``GET /v1/models`` (the ``/v1`` prefix is optional). Errors are OpenAI-shaped JSON.

Script format (a dict, e.g. loaded from YAML)::

    default: {text: "I cannot help with that."}     # a response, or a list used in sequence
    models: [scripted-model]                         # optional, for GET /v1/models
    rules:                                           # first match wins
      - match: "T shirts"                            # substring of the last user message
        responses:                                   # used in order; the last one repeats
          - {status: 429, headers: {Retry-After: "0"}}
          - {tool_call: {name: productsUsingGET, arguments: {q: "T shirt", size: 5}}}
      - match: "re:(?i)weather in \\w+"              # ``re:`` + a regex (re.search)
        responses: [{tool_call: "$first_tool"}]      # first tool of the request, args {}

A bare list is taken as ``rules``. A rule without ``match`` matches everything. A response is
one of ``{tool_call: {name, arguments}}`` (arguments: dict, or str sent verbatim),
``{tool_calls: [...]}``, ``{text: "..."}`` (may accompany a tool call as its content), or
``{status: 4xx/5xx, headers: {...}, body: {...}}``; any response may add ``hold: true`` (it
waits for the next ``release()``: ``hold()`` keeps every reply so, and a test sees calls in flight
without a clock), ``delay: seconds``
and ``usage: {prompt_tokens, completion_tokens}``. On ``/v1/completions`` (matched on the
prompt) a tool call is rendered as the text ``{"name": ..., "arguments": {...}}`` with the
arguments spliced in raw.

Run it in another process with
``python -m permutate_nb.testing.scripted_server --port 0 --script s.yaml --delay 0.05``;
the first stdout line is the base URL.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import signal
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from permutate_nb.testing.openai_replies import Replies, error_reply
from permutate_nb.testing.openai_script import Script, ScriptError

__all__ = ["ScriptError", "ScriptedOpenAIServer", "main"]

_MAX_BODY = 64 * 1024 * 1024
# How long stop() lets a reply in flight finish before its connection is cut.
_SHUTDOWN_GRACE_S = 0.25


class _Gate:
    """Replies kept back by ``hold()`` until ``release()``; lives on the server's loop."""

    def __init__(self) -> None:
        self.held = False
        self._event: asyncio.Event | None = None

    async def released(self) -> None:
        if self._event is None:
            self._event = asyncio.Event()
        await self._event.wait()

    def release(self) -> None:
        self.held = False
        event, self._event = self._event, None
        if event is not None:
            event.set()


def _handler(replies: Replies, gate: _Gate) -> Callable[[web.BaseRequest], Awaitable[web.Response]]:
    """The one request handler: read the body, ask ``replies``, send the reply after its delay.

    It runs on aiohttp's low-level server: three fixed paths need no router, middleware or
    signals, and skipping them is about a tenth of the server's CPU per request.
    """

    async def handle(request: web.BaseRequest) -> web.Response:
        size = request.content_length
        if size is not None and size > _MAX_BODY:
            reply = error_reply(413, f"request body of {size} bytes is over the {_MAX_BODY} byte limit")
        else:
            if request.version >= (1, 1) and request.headers.get("Expect", "").lower() == "100-continue":
                await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # as aiohttp's router does
            raw = await request.content.read() if request.body_exists else b""
            reply = replies.answer(request.method, request.path, request.headers, raw)
        if gate.held or reply.delay == math.inf:  # hold(), or a ``hold: true`` response: until release()
            await gate.released()
        elif reply.delay > 0:
            await asyncio.sleep(reply.delay)
        return web.Response(body=reply.body, status=reply.status, headers=reply.headers,
                            content_type="application/json")

    return handle


class ScriptedOpenAIServer:
    """A scripted OpenAI-compatible server on its own event loop in a daemon thread.

    ``requests`` holds ``{"method", "path", "headers", "json"}`` per request when ``record``
    is true; ``hits`` counts requests per rule (keyed by the rule's ``match`` text, or
    ``"default"``). ``delay`` and ``record`` may be changed while running.
    """

    def __init__(
        self,
        script: dict[str, Any] | list[Any] | None = None,
        *,
        delay: float = 0.0,
        record: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._replies = Replies(script, delay, record)
        self._gate = _Gate()
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.ServerRunner | None = None
        self._lock = threading.Lock()

    # -- configuration, callable from any thread -------------------------------------------

    @property
    def base_url(self) -> str:
        """The URL a client's ``base_url`` names (with ``/v1``); raises until ``start()``."""
        if self._runner is None:
            raise RuntimeError("server not started; call start() first")
        return f"http://{self.host}:{self.port}/v1"

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every request so far while ``record`` is on: method, path, lower-cased headers and JSON body."""
        return self._replies.requests

    @property
    def hits(self) -> dict[str, int]:
        """A snapshot of hits per rule key (``match`` text; ``"default"`` for no match)."""
        return dict(self._replies.script.counts)

    @property
    def delay(self) -> float:
        """Seconds added before every reply unless the response sets its own ``delay``; settable while serving."""
        return self._replies.delay

    @delay.setter
    def delay(self, value: float) -> None:
        self._replies.delay = float(value)

    @property
    def record(self) -> bool:
        """Whether requests are kept in ``requests`` (off for load tests, where the list would only grow)."""
        return self._replies.record

    @record.setter
    def record(self, value: bool) -> None:
        self._replies.record = bool(value)

    def set_script(self, script: dict[str, Any] | list[Any] | None) -> None:
        """Replace the script (validated first, raising ScriptError) and reset the rule counters."""
        compiled = Script(script)
        with self._lock:
            self._replies.script = compiled  # a single assignment: the loop sees old or new, never half

    def hold(self) -> None:
        """Keep every reply from now on until ``release()``: a test sees calls in flight without a clock."""
        self._gate.held = True

    def release(self) -> None:
        """Send the held replies and stop holding (callable from any thread)."""
        loop = self._loop
        if loop is None or not loop.is_running():  # served by start_async: the caller is on the server's loop
            self._gate.release()
            return
        done = threading.Event()

        def run() -> None:
            self._gate.release()
            done.set()

        loop.call_soon_threadsafe(run)
        done.wait(30)  # released before it returns: a hold() right after must not be undone by this release

    def reset(self) -> None:
        """Forget recorded requests and rule counters; the script stays."""
        with self._lock:
            self._replies.requests.clear()
            self._replies.script.counts = {}

    # -- lifecycle --------------------------------------------------------------------------

    async def start_async(self) -> ScriptedOpenAIServer:
        """Listen on the running loop (for callers that already own an event loop)."""
        # No access log (it costs per request) and no signal handlers (they belong to the caller).
        runner = web.ServerRunner(web.Server(_handler(self._replies, self._gate)), handle_signals=False, access_log=None,
                                  shutdown_timeout=_SHUTDOWN_GRACE_S)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self.port = runner.addresses[0][1]  # the port the kernel picked for port 0
        self._runner = runner
        return self

    async def stop_async(self) -> None:
        """Stop listening, let replies in flight finish for a moment, then close every connection."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    def start(self) -> ScriptedOpenAIServer:
        """Serve from a daemon thread with its own loop; returns once listening."""
        if self._thread is not None:
            raise RuntimeError("server already started")
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.stop_async())
                # Connections cut by the shutdown finish their cancellation before the loop goes.
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name=f"scripted-openai-{id(self):x}", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            self._loop = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Stop serving and join the thread; safe to call twice."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._thread = None
        self._loop = None

    def __enter__(self) -> ScriptedOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.base_url if self._runner is not None else "not started"
        return f"<ScriptedOpenAIServer {where} rules={len(self._replies.script.rules)}>"


# --------------------------------------------------------------------------------------
# CLI: for benchmarks and notebooks that want the server in a separate process
# --------------------------------------------------------------------------------------


def _load_script(path: str) -> Any:
    """YAML or JSON (JSON is YAML) from a file; ``-`` reads stdin."""
    import yaml  # local import: only the CLI needs it

    try:
        if path == "-":
            return yaml.safe_load(sys.stdin)
        with open(path, encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise ScriptError(f"{path}: not valid YAML/JSON: {exc}") from None


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT; the first stdout line is the base URL."""
    parser = argparse.ArgumentParser(prog="python -m permutate_nb.testing.scripted_server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--script", help="YAML/JSON script file (default: a text reply to everything)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each reply (default 0)")
    args = parser.parse_args(argv)
    try:
        script = _load_script(args.script) if args.script else None
        # Nobody can read ``requests`` from outside the process, so keep memory flat.
        server = ScriptedOpenAIServer(script, delay=args.delay, record=False, host=args.host, port=args.port)
    except (OSError, ValueError) as exc:
        print(f"scripted_server: {exc}", file=sys.stderr)
        return 2

    async def serve() -> None:
        await server.start_async()
        print(server.base_url, flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):  # e.g. Windows
                pass
        await stop.wait()
        await server.stop_async()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"scripted_server: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
