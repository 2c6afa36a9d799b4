"""MCP servers as plugins, with real servers: ``mcp-server-time`` and ``mcp-server-git`` from PyPI over
stdio, and the tests' own FastMCP server (``tests/mcp_test_server.py``) over stdio and streamable HTTP.

The model is the scripted OpenAI-compatible server: it answers each prompt with a known tool call,
so what is tested is the plumbing (tools/list -> tools offered, the selection scored on plugin name
and tool name, tools/call executed and recorded) and the server's life (started on first use,
stopped when the job ends, also when it is cancelled or its process killed).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import permutate_nb as pn
from permutate_nb.core.api import run_async
from permutate_nb.core.jobs.permutate import plan_job

from ..helpers import cli_process, stop_process, wait_until

pytest.importorskip("mcp")

BIN = Path(sys.executable).parent
TEST_SERVER = Path(__file__).resolve().parents[1] / "mcp_test_server.py"
TIME = [str(BIN / "mcp-server-time"), "--local-timezone", "UTC"]


def _llm(base_url: str) -> dict[str, Any]:
    return {"provider": "OpenAIChat", "model_name": "gpt-4o-mini", "temperature": 0, "base_url": base_url}


def tool_request(base_url: str, plugins: list[dict[str, Any]], cases: list[dict[str, Any]], **config: Any) -> dict[str, Any]:
    return {
        "name": "mcp_job", "config": {"cache": False, "max_retries": 0, "timeout_sec": 60, **config},
        "plugin_groups": [{"name": "tools", "plugins": plugins}],
        "permutations": [{"name": "p1", "llm": _llm(base_url), "tool_selector": {"provider": "OpenAI", "plugin_group_name": "tools"}}],
        "test_cases": [{"type": "plugin_selector", **case} for case in cases],
    }


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by its parent) is gone for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _pids(log: Path, word: str) -> list[int]:
    if not log.exists():
        return []
    return [int(line.split()[1]) for line in log.read_text().splitlines() if line.startswith(word)]


def _git_repo(path: Path) -> Path:
    path.mkdir()
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "first commit"]):
        if args[0] == "add":
            (path / "README.md").write_text("hello\n")
        subprocess.run(["git", *args], cwd=path, env=env, check=True)
    (path / "new_file.txt").write_text("untracked\n")
    return path


def test_pypi_servers_time_and_git_end_to_end(scripted: Any, tmp_path: Path) -> None:
    """Two published servers over stdio in one job: their tools are offered, step b is the right tool,
    tools/call runs and its answer is the run's final_output; both servers are gone after the job."""
    repo = _git_repo(tmp_path / "repo")
    git = [str(BIN / "mcp-server-git"), "--repository", str(repo)]
    scripted.set_script({"rules": [
        {"match": "time", "responses": [{"tool_call": {"name": "get_current_time", "arguments": {"timezone": "Europe/Paris"}}}]},
        {"match": "repository", "responses": [{"tool_call": {"name": "git_status", "arguments": {"repo_path": str(repo)}}}]},
    ]})
    request = tool_request(scripted.base_url, [{"name": "time", "mcp": {"command": TIME}}, {"name": "git", "mcp": {"command": git}}], [
        {"name": "paris", "prompt": "What time is it in Paris?", "expected_plugin_used": "time", "expected_api_used": "get_current_time"},
        {"name": "status", "prompt": "Is my repository clean?", "expected_plugin_used": "git", "expected_api_used": "git_status"},
        {"name": "wrong", "prompt": "What time is it in the repository?", "expected_plugin_used": "git",
         "expected_api_used": "git_log"},
    ], execute_operations=True)
    result = pn.run(request)
    rows = {row.test_case_name: row for row in result.details}
    assert rows["paris"].passed and rows["paris"].plugin_operation == "get_current_time"
    assert json.loads(rows["paris"].final_output or "")["timezone"] == "Europe/Paris"
    assert rows["status"].passed and "new_file.txt" in (rows["status"].final_output or "")
    assert not rows["wrong"].is_plugin_detected and not rows["wrong"].is_plugin_operation_found and not rows["wrong"].passed
    # what the model was offered: every tool of both servers, with their descriptions and schemas
    offered = {tool["function"]["name"]: tool["function"] for tool in scripted.requests[0]["json"]["tools"]}
    assert {"get_current_time", "convert_time", "git_status", "git_log"} <= set(offered)
    assert offered["get_current_time"]["description"].startswith("time: ")
    assert "timezone" in offered["get_current_time"]["parameters"]["properties"]
    # the snapshot stored with the job
    stored = pn.results(result.job_id)
    assert stored.tools["tools"]["digest"] == result.tools["tools"]["digest"]
    assert {t["name"] for t in stored.tools["tools"]["tools"]} == set(offered)
    assert set(stored.tools_df["tool"]) == set(offered)
    # no server outlives the job (the SDK starts each in a session of its own: found by its argv)
    wait_until(lambda: not _processes_with(str(repo)), 20, 0.1)


def _processes_with(text: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if text in (entry / "cmdline").read_bytes().decode(errors="replace") and _alive(int(entry.name)):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def test_one_server_process_shared_by_the_runs_and_stopped_on_cancel(scripted: Any, tmp_path: Path) -> None:
    """Six runs call tools of one server: it starts once for the job (besides the short listing at planning);
    cancelling the job while a tool call hangs stops it."""
    log = tmp_path / "server.log"
    scripted.set_script({"rules": [
        {"match": "hang", "responses": [{"tool_call": {"name": "wait_forever", "arguments": {}}}]},
        {"responses": [{"tool_call": {"name": "search_notes", "arguments": {"query": "tea"}}}]},
    ]})
    plugins = [{"name": "notes", "mcp": {"command": [sys.executable, str(TEST_SERVER), str(log)]}}]
    cases = [{"name": f"find{i}", "prompt": f"find my tea notes {i}", "expected_plugin_used": "notes",
              "expected_api_used": "search_notes"} for i in range(6)]
    result = pn.run(tool_request(scripted.base_url, plugins, cases, execute_operations=True, concurrency=3))
    assert result.summary["overall_accuracy"] == 100.0
    assert all(row.final_output == "tea note 1\ntea note 2\ntea note 3" for row in result.details)
    started = _pids(log, "start")
    assert len(started) == 2  # the listing while planning, then one process for all six runs
    wait_until(lambda: not any(_alive(pid) for pid in started), 20, 0.1)

    log.unlink()
    hang = [{"name": "hang", "prompt": "hang please", "expected_plugin_used": "notes", "expected_api_used": "wait_forever"}]

    async def cancel_while_calling() -> Any:
        job = asyncio.create_task(run_async(tool_request(scripted.base_url, plugins, hang, execute_operations=True)))
        deadline = time.monotonic() + 60
        while not _pids(log, "called"):
            assert time.monotonic() < deadline and not job.done(), "the tool was never called"
            await asyncio.sleep(0.05)
        job.cancel()
        return await job

    cancelled = asyncio.run(cancel_while_calling())
    assert cancelled.status == "CANCELLED"
    (caller,) = _pids(log, "called")
    wait_until(lambda: not _alive(caller), 20, 0.1)


def test_killing_permutate_leaves_no_server_behind(scripted: Any, tmp_path: Path, permutate_home: Path) -> None:
    """SIGKILL gives permutate no chance to stop anything: the server sees its stdin close and exits."""
    log = tmp_path / "server.log"
    scripted.set_script({"rules": [{"responses": [{"tool_call": {"name": "wait_forever", "arguments": {}}}]}]})
    plugins = [{"name": "notes", "mcp": {"command": [sys.executable, str(TEST_SERVER), str(log)]}}]
    cases = [{"name": "hang", "prompt": "hang", "expected_plugin_used": "notes", "expected_api_used": "wait_forever"}]
    path = tmp_path / "request.json"
    path.write_text(json.dumps(tool_request(scripted.base_url, plugins, cases, execute_operations=True)))
    proc = cli_process("run", str(path), "--quiet", home=permutate_home)
    try:
        wait_until(lambda: bool(_pids(log, "called")) or proc.poll() is not None, 90, 0.1)
        assert proc.poll() is None, proc.communicate()[1]
        (caller,) = _pids(log, "called")
        assert _alive(caller)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        wait_until(lambda: not _alive(caller), 30, 0.1)
    finally:
        if proc.poll() is None:
            stop_process(proc, 10)
        proc.communicate()


def test_streamable_http_server_with_headers_from_the_environment(scripted: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from ..mcp_test_server import serve_http

    monkeypatch.setenv("NOTES_TOKEN", "s3cret")
    scripted.set_script({"rules": [{"responses": [{"tool_call": {"name": "add_note", "arguments": {"title": "tea"}}}]}]})
    with serve_http() as (url, recorder):
        plugins = [{"name": "notes", "mcp": {"url": url, "headers": {"Authorization": "Bearer ${NOTES_TOKEN}",
                                                                      "X-Team": {"env": "NOTES_TOKEN"}}}}]
        cases = [{"name": "save", "prompt": "save a note about tea", "expected_plugin_used": "notes", "expected_api_used": "add_note"}]
        result = pn.run(tool_request(scripted.base_url, plugins, cases, execute_operations=True))
    (row,) = result.details
    assert row.passed and row.final_output == "saved note 'tea' (0 characters)"
    assert recorder.headers and all(h.get("authorization") == "Bearer s3cret" and h.get("x-team") == "s3cret"
                                    for h in recorder.headers)
    assert "s3cret" not in json.dumps(pn.results(result.job_id).request)  # the store keeps the names only


def test_a_tool_error_is_the_rows_note_not_a_failed_run(scripted: Any) -> None:
    from ..mcp_test_server import serve_http

    scripted.set_script({"rules": [{"responses": [{"tool_call": {"name": "add_note", "arguments": {"name": "tea"}}}]}]})
    with serve_http() as (url, _):
        cases = [{"name": "save", "prompt": "save tea", "expected_plugin_used": "notes", "expected_api_used": "add_note"}]
        result = pn.run(tool_request(scripted.base_url, [{"name": "notes", "mcp": {"url": url}}], cases, execute_operations=True))
    (row,) = result.details
    assert row.is_run_completed and row.passed  # the selection stands
    assert "tool add_note reported an error" in (row.error or "") and "title" in (row.error or "")


@pytest.mark.parametrize(("command", "message"), [
    (["/nonexistent/mcp-server"], "did not start: No such file or directory"),
    ([sys.executable, "-c", "import sys; sys.stderr.write('no database given\\n'); sys.exit(3)"],
     "exited before answering initialize; its last error output: no database given"),
    ([sys.executable, "-c", "import time; time.sleep(60)"], "did not answer initialize within 2 s"),
])
def test_a_server_that_does_not_start_fails_the_runs_with_one_line(scripted: Any, command: list[str], message: str) -> None:
    plugins = [{"name": "broken", "mcp": {"command": command}}]
    cases = [{"name": "a", "prompt": "x", "expected_plugin_used": "broken", "expected_api_used": "t"}]
    request = tool_request(scripted.base_url, plugins, cases, timeout_sec=2)
    with pytest.warns(pn.PermutateWarning) as caught:
        plan = plan_job(request)
    line = str(caught[0].message)
    result = pn.run(plan)
    assert "\n" not in line and line.startswith("MCP server 'broken' (") and message in line
    (row,) = result.details
    assert not row.is_run_completed and row.error == line
    assert result.status == "ERROR" and scripted.requests == []


def test_cli_lists_the_tools_of_an_mcp_server_and_of_a_request(scripted: Any, tmp_path: Path, capsys: Any) -> None:
    from permutate_nb.cli import main

    command = f"{sys.executable} {TEST_SERVER}"
    assert main(["tools", "--mcp-command", command]) == 0
    text = capsys.readouterr().out
    assert "plugin mcp" in text and "search_notes  -  Find notes whose title contains the query." in text
    assert "parameters: query*, limit" in text
    request = tmp_path / "r.json"
    request.write_text(json.dumps(tool_request(scripted.base_url, [{"name": "notes", "mcp": {"command": command.split()}}], [
        {"name": "a", "prompt": "x", "expected_plugin_used": "notes", "expected_api_used": "add_note"}])))
    assert main(["tools", str(request), "--json"]) == 0
    lines = json.loads(capsys.readouterr().out)
    assert [(x["group"], x["plugin"], x["tool"]) for x in lines] == [
        ("tools", "notes", "add_note"), ("tools", "notes", "search_notes"), ("tools", "notes", "wait_forever")]
    assert lines[0]["input_schema"]["required"] == ["title"]
    assert main(["tools", "--mcp-command", "/nonexistent/x"]) == 2
    assert capsys.readouterr().err.strip() == "permutate: error: MCP server 'mcp' (/nonexistent/x) did not start: No such file or directory"


def test_validate_names_an_unknown_tool() -> None:
    request = tool_request("http://127.0.0.1:9/v1", [{"name": "time", "mcp": {"command": TIME}}], [
        {"name": "a", "prompt": "x", "expected_plugin_used": "time", "expected_api_used": "current_time"}])
    from permutate_nb.core.jobs.expectations import expectation_warnings

    plan = plan_job(request, check_keys=False)
    assert [op.url for op in plan.plugins["time"].operations] == ["get_current_time", "convert_time"]
    (line,) = expectation_warnings(plan)
    assert line == "test case 'a': expected_api_used current_time is no operation of time (nearest: get_current_time)"


def test_an_agent_reads_the_tools_answer_and_answers(scripted: Any) -> None:
    """Multi-turn: the LangChain tool-calling agent calls the MCP tool, gets its answer as the tool
    message, and the model's next reply is the run's final output."""
    pytest.importorskip("langchain_openai")
    from ..mcp_test_server import serve_http

    answer = {"text": "You have three tea notes."}
    scripted.set_script({"rules": [{"responses": [{"tool_call": {"name": "search_notes", "arguments": {"query": "tea"}}}, answer]}]})
    with serve_http() as (url, _):
        request = tool_request(scripted.base_url, [{"name": "notes", "mcp": {"url": url}}], [
            {"name": "find", "prompt": "find my tea notes", "expected_plugin_used": "notes", "expected_api_used": "search_notes"}],
            execute_operations=True)
        request["permutations"][0]["tool_selector"] = {"provider": "Langchain", "pipeline_name": "tool-calling",
                                                       "plugin_group_name": "tools"}
        (row,) = pn.run(request).details
    assert row.passed and row.final_output == answer["text"]
    assert row.intermediate_steps and row.intermediate_steps[0]["observation"] == "tea note 1\ntea note 2\ntea note 3"
    follow_up = [r["json"]["messages"] for r in scripted.requests if len(r["json"]["messages"]) == 3]
    assert follow_up[0][2] == {**follow_up[0][2], "role": "tool", "content": "tea note 1\ntea note 2\ntea note 3"}


def test_validate_refuses_a_server_that_does_not_start(tmp_path: Path, capsys: Any) -> None:
    from permutate_nb.cli import main

    path = tmp_path / "r.json"
    path.write_text(json.dumps(tool_request("http://127.0.0.1:9/v1", [{"name": "gone", "mcp": {"command": ["/nonexistent/srv"]}}],
                                            [{"name": "a", "prompt": "x", "expected_plugin_used": "gone", "expected_api_used": "t"}])))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == "permutate: error: MCP server 'gone' (/nonexistent/srv) did not start: No such file or directory"
