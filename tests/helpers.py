"""Shared test data: the docs' sample request and small request builders."""

from __future__ import annotations

import contextlib
import copy
import functools
import http.server
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import permutate_nb

SLOWDOWN = float(os.environ.get("PERMUTATE_TEST_SLOWDOWN") or 1)
DEADLINE = 120.0 * SLOWDOWN
"""The one deadline of the suite: every wait, subprocess and poll derives from it (120 s, times
``PERMUTATE_TEST_SLOWDOWN`` on a slower machine). It bounds waits for events that take
milliseconds on an idle machine, so a busy one passes too; a test never asserts a duration."""
FOREVER = 2 * DEADLINE
"""A reply delay longer than any wait in a test: a job that returns within DEADLINE did not wait for
that reply (and one that did shows the late reply, so the test fails on what it returned)."""
TEST_TIMEOUT = 15 * DEADLINE
"""pytest-timeout's bound on one test (tests/conftest.py), the backstop for a wait without a deadline."""

SNAPSHOTS = Path(permutate_nb.__file__).parent / "examples" / "snapshots"
KLARNA = SNAPSHOTS / "Klarna_Shopping.json"
WEB_SEARCH = SNAPSHOTS / "Imprompt_Web_Search.json"
PRODUCTS_URL = "https://www.klarna.com/us/shopping/public/openai/v0/products"
SEARCH_URL = "https://ws.imprompt.ai/api/plugin/web-search/search"

DOCS_FLAT_YAML = """\
version: 1.1.0
name: klarna_plugin_test
config:
  tool_selector_endpoint: http://localhost:8006
  openplugin_api_key:
  auto_translate_to_languages:
    - English
    - Spanish
test_plugin:
  manifest_url: https://assistant-management-data.s3.amazonaws.com/Klarna_Shopping.json
plugin_groups:
  - plugin_group:
    name: my_group1
    plugins:
      - plugin:
        manifest_url: https://assistant-management-data.s3.amazonaws.com/Klarna_Shopping.json
  - plugin_group:
    name: my_group2
    plugins:
      - plugin:
        manifest_url: https://assistant-management-data.s3.amazonaws.com/Klarna_Shopping.json
      - plugin:
        manifest_url: https://assistant-management-data.s3.amazonaws.com/Imprompt_Web_Search.json
permutations:
  - permutation:
    name: permutation1
    llm:
      provider: OpenAIChat
      model_name: gpt-3.5-turbo-0613
      temperature: 0
      max_tokens: 1024
      top_p: 1
      frequency_penalty: 0
      presence_penalty: 0
      n: 1
      best_of: 1
    tool_selector:
      provider: OpenAI
      pipeline_name: default
      plugin_group_name: my_group1
  - permutation:
    name: permutation2
    llm:
      provider: OpenAIChat
      model_name: gpt-3.5-turbo-0613
      temperature: 0
    tool_selector:
      provider: Imprompt
      pipeline_name: default
      plugin_group_name: my_group1
  - permutation:
    name: permutation3
    llm:
      provider: OpenAIChat
      model_name: gpt-3.5-turbo-0613
    tool_selector:
      provider: Langchain
      pipeline_name: zero-shot-react-description
      plugin_group_name: my_group1
test_cases:
  - test_case:
    name: test1
    type: plugin_selector
    prompt: Show me 5 T shirts from Klarna
    expected_plugin_used: https://assistant-management-data.s3.amazonaws.com/Klarna_Shopping.json
    expected_api_used: https://www.klarna.com/us/shopping/public/openai/v0/products
    expected_method: get
  - test_case:
    name: test2
    type: api_signature_selector
    prompt: Show me 5 T shirts from Klarna
    expected_plugin_used: https://assistant-management-data.s3.amazonaws.com/Klarna_Shopping.json
    expected_api_used: https://www.klarna.com/us/shopping/public/openai/v0/products
    expected_method: get
    expected_parameters:
      q: T shirt
      size: 5
"""


def klarna_request(
    *,
    manifest: str | Path = KLARNA,
    base_url: str | None = None,
    transport: str = "http",
    model: str = "gpt-4o-mini",
    **config: Any,
) -> dict[str, Any]:
    """A plain-form request on the bundled Klarna snapshot with two test cases."""
    llm: dict[str, Any] = {"provider": "OpenAIChat", "model_name": model, "temperature": 0, "transport": transport}
    if base_url:
        llm["base_url"] = base_url
    return copy.deepcopy({
        "version": "1.0.0",
        "name": "klarna_test",
        "config": {"max_retries": 2, **config},
        "plugin_groups": [{"name": "klarna", "plugins": [{"manifest_url": str(manifest)}]}],
        "permutations": [{"name": "p1", "llm": llm, "tool_selector": {"provider": "OpenAI", "plugin_group_name": "klarna"}}],
        "test_cases": [
            {"name": "shirts", "type": "plugin_selector", "prompt": "Show me 5 T shirts from Klarna",
             "expected_plugin_used": str(manifest), "expected_api_used": PRODUCTS_URL, "expected_method": "get"},
            {"name": "shirts_params", "type": "api_signature_selector", "prompt": "Find 5 T shirts please",
             "expected_plugin_used": str(manifest), "expected_api_used": PRODUCTS_URL, "expected_method": "get",
             "expected_parameters": {"q": "T shirt", "size": 5}},
        ],
    })


def klarna_cases_request(base_url: str, cases: int, repeats: int = 1, permutations: int = 1,
                         **config: Any) -> dict[str, Any]:
    """``permutations`` x ``cases`` x ``repeats`` runs on the Klarna snapshot, every case the same
    api-signature question (the scale tests' and ``benchmarks/planning.py``'s request)."""
    request = klarna_request(base_url=base_url, repeats=repeats, concurrency=32, **config)
    llm = request["permutations"][0]["llm"]
    request["permutations"] = [{"name": f"p{p}", "llm": {**llm, "temperature": p / 10},
                                "tool_selector": {"provider": "OpenAI", "plugin_group_name": "klarna"}}
                               for p in range(permutations)]
    request["test_cases"] = [
        {"name": f"case{i}", "type": "api_signature_selector", "prompt": f"Show me {i + 1} T shirts",
         "expected_plugin_used": str(KLARNA), "expected_api_used": PRODUCTS_URL, "expected_method": "get",
         "expected_parameters": {"q": "T shirt", "size": 5}} for i in range(cases)]
    return request


def stored_job_of(store: Any, rows: int) -> str:
    """A finished permutate job of ``rows`` identical rows, inserted by SQL (a million rows in a second
    or two); returns its id."""
    import json
    import sqlite3

    from permutate_nb.core.jobs.permutate_result import RunDetail

    job_id: str = store.create_job("permutate", "big", {"name": "big", "permutations": []}, rows)
    row = json.dumps(RunDetail("p", "s", "plugin_selector", "c", True, "English", "hi").to_dict())
    with sqlite3.connect(store.path) as conn:
        conn.execute("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
                     "INSERT INTO runs (job_id, idx, result) SELECT ?, i, ? FROM n", (rows - 1, job_id, row))
    store.finish(job_id, "SUCCESS")
    return job_id


@contextlib.contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 serving ``folder``; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


def sigint_as_default() -> None:
    """``preexec_fn`` for a child a test interrupts: a suite started in the background (``cmd &`` in a
    script) hands its children SIGINT ignored, and Python then ignores Ctrl-C and ``interrupt_main()``."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_until(condition: Callable[[], bool], seconds: float = DEADLINE, every: float = 0.02,
               what: str = "the condition") -> None:
    """Poll ``condition`` every ``every`` seconds; fail the test after ``seconds`` (``DEADLINE``)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {seconds:.0f} s waiting for {what}"
        time.sleep(every)


def wait_for(what: str, check: Callable[[], Any], seconds: float = DEADLINE, every: float = 0.2) -> Any:
    """Poll ``check`` until it gives something truthy and return that; fail the test after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {seconds:.0f} s waiting for {what}"
        time.sleep(every)


def cpu_growth(work: Callable[[int], object], small: int, factor: int = 4) -> float:
    """How many times the CPU time of ``work(small * factor)`` is that of ``work(small)`` (best of three each).

    This thread's CPU time, not the clock: other processes on a busy machine do not add to it, and the
    ratio of two measurements taken side by side leaves the machine's speed out. Work linear in its size
    gives about ``factor`` (less, with fixed costs); quadratic work gives about ``factor ** 2``. The
    collector is paused while measuring, as its passes grow with the objects alive, not with the work."""
    import gc

    def best(size: int) -> float:
        times = []
        for _ in range(3):
            gc.collect()
            gc.disable()
            try:
                began = time.thread_time()
                work(size)
                times.append(time.thread_time() - began)
            finally:
                gc.enable()
        return min(times)

    return best(small * factor) / max(best(small), 1e-6)


def peak_mib(work: Callable[[], object]) -> float:
    """The most memory ``work()`` held at once above what was held before it (Python allocations, MiB)."""
    import tracemalloc

    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        work()
        return (tracemalloc.get_traced_memory()[1] - base) / 2**20
    finally:
        tracemalloc.stop()


def committed_runs(store_path: Path, job_id: str | None = None) -> int:
    """Rows committed to the SQLite store at ``store_path`` (0 while the file or its tables are being made)."""
    import sqlite3

    if not store_path.exists():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(store_path, timeout=DEADLINE)) as db:
            if job_id is None:
                return int(db.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
            return int(db.execute("SELECT COUNT(*) FROM runs WHERE job_id=?", (job_id,)).fetchone()[0])
    except sqlite3.OperationalError:  # the file exists, its tables are not made yet
        return 0


def cli_process(*args: str, home: Path) -> subprocess.Popen[str]:
    """``permutate ARGS`` as a real process on this interpreter, with its own PERMUTATE_HOME."""
    env = {**os.environ, "PERMUTATE_HOME": str(home)}
    return subprocess.Popen([sys.executable, "-m", "permutate_nb.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop_process(proc: subprocess.Popen[Any], grace: float = DEADLINE) -> None:
    """Terminate a server the test started; kill it if it has not gone within ``grace`` seconds."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()


#: Planted in a case name and in a model's reply: a view or report that does not escape it runs it.
PLANTED = "</script><script>window.pwned=1</script><img src=x onerror=window.pwned=2>"


def mixed_request(scripted: Any, repeats: int = 1) -> dict[str, Any]:
    """A job whose runs pass, are wrong (``size`` 6 for 5, a reply with ``PLANTED``) and error (HTTP 500,
    in a case named ``PLANTED``), ``repeats`` times each, on the scripted server (its script is set here)."""
    scripted.set_script({"rules": [
        {"match": "Find 5 T shirts", "responses": [{"tool_call": {"name": "productsUsingGET",
                                                                  "arguments": {"q": "T shirt", "size": 5}}}]},
        {"match": "Show me 5 T shirts", "responses": [{"text": PLANTED, "tool_call": {
            "name": "productsUsingGET", "arguments": {"q": PLANTED, "size": 6}}}]},
        {"match": "down", "responses": [{"status": 500}]},
    ]})
    request = klarna_request(base_url=scripted.base_url, repeats=repeats, max_retries=0)
    request["test_cases"] = [
        {"name": "good", "type": "api_signature_selector", "prompt": "Find 5 T shirts please",
         "expected_plugin_used": str(KLARNA), "expected_api_used": PRODUCTS_URL, "expected_method": "get",
         "expected_parameters": {"q": "T shirt", "size": 5}},
        {"name": "wrong_size", "type": "api_signature_selector", "prompt": "Show me 5 T shirts from Klarna",
         "expected_plugin_used": str(KLARNA), "expected_api_used": PRODUCTS_URL, "expected_method": "get",
         "expected_parameters": {"q": "T shirt", "size": 5}},
        {"name": PLANTED, "type": "plugin_selector", "prompt": "the server is down",
         "expected_plugin_used": str(KLARNA), "expected_api_used": PRODUCTS_URL},
    ]
    return request
