"""The notebook face in a real IPython kernel (a subprocess, driven over ZeroMQ as a frontend would).

What the frontend receives is checked from the kernel's messages: the progress widget and its
updates (comm messages), the static line that replaces it, notes, and an interrupted job.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
import yaml

KernelManager = pytest.importorskip("jupyter_client.manager").KernelManager  # a test tool: skipped without it

from permutate_nb.core.store.job_store import JobStore

from ..helpers import DEADLINE, klarna_request

GOOD = {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}}
ROOT = Path(__file__).resolve().parents[2]


class Kernel:
    """A started kernel and a client; ``execute`` returns every iopub message of one cell."""

    def __init__(self, home: Path, url_map: Path) -> None:
        env = {**os.environ, "PERMUTATE_HOME": str(home), "PERMUTATE_URL_MAP": str(url_map),
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(env=env)
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=DEADLINE)
        self.execute("%load_ext permutate_nb")

    def execute(self, code: str, timeout: float = DEADLINE, on_message: Any = None) -> list[dict[str, Any]]:
        msg_id = self.client.execute(code)
        messages = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                msg = self.client.get_iopub_msg(timeout=max(deadline - time.monotonic(), 0.1))
            except Empty:
                raise AssertionError(f"the cell did not finish in {timeout} s: {code[:60]!r}") from None
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            messages.append(msg)
            if on_message is not None:
                on_message(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        while True:  # the execute_reply, with its payloads (set_next_input)
            reply = self.client.get_shell_msg(timeout=DEADLINE)
            if reply["parent_header"].get("msg_id") == msg_id:
                return [*messages, reply]

    def value(self, expression: str) -> Any:
        out = self.execute(f"import json as _j; print(_j.dumps({expression}))")
        text = "".join(m["content"]["text"] for m in out if m["msg_type"] == "stream" and m["content"]["name"] == "stdout")
        assert text, [m["content"] for m in out if m["msg_type"] == "error"]
        return json.loads(text)

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    import permutate_nb

    home = tmp_path_factory.mktemp("kernel_home")
    k = Kernel(home, Path(permutate_nb.__file__).parent / "examples" / "snapshots" / "url_map.yaml")
    k.home = home  # type: ignore[attr-defined]
    yield k
    k.close()


def _of(messages: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [m["content"] for m in messages if m["msg_type"] == kind]


def _widget_texts(messages: list[dict[str, Any]]) -> list[str]:
    """Every string value the kernel set on a widget (labels, bar texts), in order."""
    texts = []
    for content in _of(messages, "comm_msg"):
        state = content["data"].get("state", {})
        if isinstance(state.get("value"), str):
            texts.append(state["value"])
    return texts


def _cell(base_url: str, **config: Any) -> str:
    return yaml.safe_dump(klarna_request(base_url=base_url, **config), sort_keys=False)


def test_progress_ends_as_a_static_line_not_a_dead_widget(kernel: Kernel, scripted: Any) -> None:
    scripted.set_script({"rules": [{"match": "Show me", "responses": [GOOD]}, {"responses": [{"text": "no"}]}]})
    out = kernel.execute("%%permutate --no-cache --out r\n" + _cell(scripted.base_url))
    (shown,) = [c for c in _of(out, "display_data") if "application/vnd.jupyter.widget-view+json" in c["data"]]
    display_id = shown["transient"]["display_id"]
    (end,) = _of(out, "update_display_data")
    assert end["transient"]["display_id"] == display_id
    assert "application/vnd.jupyter.widget-view+json" not in end["data"]  # nothing left to find after a reload
    lines = end["data"]["text/plain"].splitlines()
    assert lines[0] == "permutate progress: klarna_test (2 runs)"
    assert lines[1].startswith("p1 · OpenAIChat[gpt-4o-mini]: 2/2 · 1 passed · 1 wrong · 0 errored · 0:0")
    assert lines[1].endswith(" · done")
    assert "permutate-progress-end" in end["data"]["text/html"]
    assert not [c for c in _of(out, "stream") if c["name"] == "stderr"]
    closed = {c["comm_id"] for c in _of(out, "comm_close")}
    opened = {c["comm_id"] for c in _of(out, "comm_open")}
    assert opened and opened <= closed  # every widget of the bars is gone from the kernel too


def test_the_clock_ticks_and_stages_are_named_while_nothing_finishes(kernel: Kernel, scripted: Any) -> None:
    scripted.set_script({"default": {"text": "Muéstrame camisetas"},  # the runs' replies wait for release()
                         "rules": [{"match": "Show me", "responses": [{**GOOD, "hold": True}, GOOD]}]})
    body = _cell(scripted.base_url, auto_translate_to_languages=["Spanish"], concurrency=1)
    data = yaml.safe_load(body)
    data["test_cases"] = data["test_cases"][:1]
    data["test_cases"][0]["translations"] = {"Spanish": "Show me 5 T shirts"}  # pinned: no delay on the way
    data["test_cases"].append({**data["test_cases"][0], "name": "again", "translations": {}})

    def release_after_two_ticks(message: dict[str, Any]) -> None:
        if any("0:02 elapsed" in t for t in _widget_texts([message])):
            scripted.release()

    # no run answers until the clock has shown 0:02: nothing finishes meanwhile
    out = kernel.execute("%%permutate --no-cache\n" + yaml.safe_dump(data, sort_keys=False), on_message=release_after_two_ticks)
    texts = _widget_texts(out)
    assert any("translating 1 prompt…" in t for t in texts)
    assert any("running 2 runs" in t for t in texts)
    clocks = [t for t in texts if t.startswith("0/2")]
    assert any("0:01 elapsed" in t for t in clocks) and any("0:02 elapsed" in t for t in clocks)


def test_batch_bars_count_done_and_errored(kernel: Kernel, scripted: Any) -> None:
    scripted.set_script({"rules": [{"match": "boom", "responses": [{"status": 400}]}], "default": {"text": "ok"}})
    kernel.execute(f"m = {{'fast': {{'model_name': 'gpt-4o-mini', 'base_url': {scripted.base_url!r}}}}}")
    out = kernel.execute("%%permutate batch --models m --no-cache\nprompt,model\nsay hi,fast\nboom,fast\n")
    assert not _of(out, "error")
    (end,) = _of(out, "update_display_data")
    assert end["data"]["text/plain"].splitlines()[1].startswith("fast: 2/2 · 1 done · 1 errored")
    assert end["data"]["text/plain"].endswith(" · done")
    assert not any("passed" in t for t in _widget_texts(out))


def test_notes_are_quiet_lines_shown_once(kernel: Kernel) -> None:
    code = ("import warnings\nfrom permutate_nb.errors import PermutateNote\n"
            "for _ in range(2):\n    warnings.warn('using the bundled snapshot', PermutateNote)")
    out = kernel.execute(code)
    assert not _of(out, "stream")  # not the red stderr box
    (note,) = _of(out, "display_data")
    assert note["data"]["text/plain"] == "permutate: note: using the bundled snapshot"
    assert "color:#777" in note["data"]["text/html"]


def test_jobs_lists_this_kernels_jobs_unless_all(kernel: Kernel, scripted: Any) -> None:
    other = JobStore(kernel.home / "jobs.sqlite")  # type: ignore[attr-defined]
    foreign = other.create_job("permutate", "from_elsewhere", {}, 1)
    scripted.set_script({"rules": [{"responses": [GOOD]}]})
    kernel.execute("%%permutate --no-cache --out mine\n" + _cell(scripted.base_url))
    own = kernel.value("list(_ip.run_line_magic('permutate', 'jobs')['id'])".replace("_ip", "get_ipython()"))
    every = kernel.value("list(get_ipython().run_line_magic('permutate', 'jobs --all')['id'])")
    assert kernel.value("mine.job_id") in own and foreign not in own
    assert foreign in every and set(own) <= set(every)


def test_builder_run_in_a_cell_shows_under_that_cell(kernel: Kernel, scripted: Any) -> None:
    scripted.set_script({"rules": [{"responses": [GOOD]}]})
    kernel.execute(f"import permutate_nb as pn\nb = pn.RequestBuilder.from_request({klarna_request(base_url=scripted.base_url)!r})")
    out = kernel.execute("b.run(cache=False)")
    (end,) = _of(out, "update_display_data")
    assert end["data"]["text/plain"].startswith("permutate progress: klarna_test (2 runs)\np1 · OpenAIChat[gpt-4o-mini]: 2/2")
    (shown,) = _of(out, "execute_result")
    assert shown["data"]["text/plain"].startswith("klarna_test-1.0.0-")
    assert kernel.value("len(b.output.outputs)") == 0  # nothing under the form


def test_to_cell_puts_the_request_in_a_new_cell_below(kernel: Kernel) -> None:
    kernel.execute(f"import permutate_nb as pn\nb = pn.RequestBuilder.from_request({klarna_request()!r})")
    out = kernel.execute("b.to_cell()")
    (payload,) = out[-1]["content"]["payload"]
    assert payload["source"] == "set_next_input" and payload["replace"] is False
    assert payload["text"].startswith("%%permutate --out result\nversion: 1.0.0\nname: klarna_test\n")


def test_interrupt_delivers_the_finished_runs(kernel: Kernel, scripted: Any) -> None:
    scripted.set_script({"rules": [{"responses": [{**GOOD, "delay": 0.4}]}]})
    data = klarna_request(base_url=scripted.base_url, repeats=12, concurrency=1)
    data["test_cases"] = data["test_cases"][:1]
    store = JobStore(kernel.home / "jobs.sqlite")  # type: ignore[attr-defined]
    before = {job["id"] for job in store.jobs()}
    interrupted = []

    def interrupt_after_three(msg: dict[str, Any]) -> None:
        new = [job for job in store.jobs() if job["id"] not in before]
        if not interrupted and new and new[0]["finished_runs"] >= 3:
            kernel.manager.interrupt_kernel()
            interrupted.append(new[0]["id"])

    out = kernel.execute("%%permutate --no-cache --out partial\n" + yaml.safe_dump(data, sort_keys=False),
                         on_message=interrupt_after_three)
    assert interrupted, "the job finished before it could be interrupted"
    assert not _of(out, "error"), [e["ename"] + ": " + e["evalue"] for e in _of(out, "error")]
    status, runs, job_id = kernel.value("[str(partial.status), len(partial.details), partial.job_id]")
    assert "cancel" in status.lower() and 3 <= runs < 12 and job_id == interrupted[0]
    (end,) = _of(out, "update_display_data")
    assert end["data"]["text/plain"].splitlines()[1].endswith(" · cancelled")
    assert [c for c in _of(out, "execute_result") if "text/html" in c["data"]]  # the partial result is shown
