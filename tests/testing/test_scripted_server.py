"""The scripted server must be indistinguishable from OpenAI for the real SDK and httpx.

These tests drive it with ``openai.OpenAI`` (the client the toolkit uses) and with raw
httpx / sockets for the wire details the SDK hides (headers, keep-alive, ordering).
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from permutate_nb.testing.scripted_server import ScriptedOpenAIServer, ScriptError
from tests.helpers import DEADLINE, FOREVER, wait_until

TOOLS: list[dict[str, Any]] = [
    {"type": "function", "function": {"name": "productsUsingGET", "description": "Search products",
                                      "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}},
    {"type": "function", "function": {"name": "weatherUsingGET", "description": "Weather",
                                      "parameters": {"type": "object", "properties": {}}}},
]


def client(server: ScriptedOpenAIServer, **kwargs: Any) -> openai.OpenAI:
    kwargs.setdefault("max_retries", 0)
    return openai.OpenAI(base_url=server.base_url, api_key="x", **kwargs)


def ask(server: ScriptedOpenAIServer, text: str, **kwargs: Any) -> Any:
    with client(server) as sdk:
        return sdk.chat.completions.create(
            model="gpt-test", messages=[{"role": "system", "content": "Pick a tool."}, {"role": "user", "content": text}],
            tools=TOOLS, **kwargs)


# -- replies the SDK parses -------------------------------------------------------------


def test_tool_call_parsed_by_sdk(scripted: ScriptedOpenAIServer) -> None:
    scripted.set_script({"rules": [{"match": "T shirts", "responses": [
        {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}}]}]})
    reply = ask(scripted, "Show me T shirts")
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.role == "assistant" and choice.message.content is None
    (call,) = choice.message.tool_calls
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "productsUsingGET"
    assert json.loads(call.function.arguments) == {"q": "T shirt", "size": 5}
    assert reply.object == "chat.completion" and reply.model == "gpt-test"
    assert reply.usage.completion_tokens == 10
    assert reply.usage.prompt_tokens > 0
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + 10
    assert scripted.hits == {"T shirts": 1}


def test_several_tool_calls_and_first_tool(scripted: ScriptedOpenAIServer) -> None:
    scripted.set_script({"rules": [
        {"match": "both", "responses": [{"tool_calls": [
            {"name": "a", "arguments": {"x": 1}}, {"name": "b", "arguments": "{}"}]}]},
        {"match": "first", "responses": [{"tool_call": "$first_tool"}]},
    ]})
    calls = ask(scripted, "do both").choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["a", "b"]
    assert len({c.id for c in calls}) == 2
    (call,) = ask(scripted, "the first one").choices[0].message.tool_calls
    assert call.function.name == "productsUsingGET" and call.function.arguments == "{}"


def test_first_tool_without_tools_is_a_clear_400(scripted: ScriptedOpenAIServer) -> None:
    scripted.set_script({"default": {"tool_call": "$first_tool"}})
    with client(scripted) as sdk, pytest.raises(openai.BadRequestError, match=r"\$first_tool"):
        sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])


def test_malformed_arguments_sent_verbatim(scripted: ScriptedOpenAIServer) -> None:
    broken = '{"q": "T shirt", size: 5'
    scripted.set_script({"default": {"tool_call": {"name": "productsUsingGET", "arguments": broken}}})
    (call,) = ask(scripted, "anything").choices[0].message.tool_calls
    assert call.function.arguments == broken


def test_text_only_reply(scripted: ScriptedOpenAIServer) -> None:
    reply = ask(scripted, "hello")  # empty script: default text
    assert reply.choices[0].message.content and reply.choices[0].message.tool_calls is None
    assert reply.choices[0].finish_reason == "stop"
    scripted.set_script({"default": {"text": "I cannot help with that."}})
    assert ask(scripted, "hello").choices[0].message.content == "I cannot help with that."
    assert scripted.hits == {"default": 1}


def test_matches_last_user_message_first_rule_wins(scripted: ScriptedOpenAIServer) -> None:
    scripted.set_script([
        {"match": "shirt", "responses": [{"text": "rule 1"}]},
        {"match": "T shirt", "responses": [{"text": "rule 2"}]},
    ])
    with client(scripted) as sdk:
        reply = sdk.chat.completions.create(model="m", messages=[
        {"role": "user", "content": "earlier: nothing"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "now a T shirt"}]},
    ])
    assert reply.choices[0].message.content == "rule 1"
    assert ask(scripted, "nothing here").choices[0].message.content  # default
    assert scripted.hits == {"shirt": 1, "default": 1}


def test_regex_match(scripted: ScriptedOpenAIServer) -> None:
    scripted.set_script({"rules": [{"match": r"re:(?i)weather in \w+$", "responses": [
        {"tool_call": {"name": "weatherUsingGET", "arguments": {}}}]}]})
    assert ask(scripted, "What's the WEATHER in Paris").choices[0].message.tool_calls[0].function.name == "weatherUsingGET"
    assert ask(scripted, "weather in Paris?").choices[0].message.tool_calls is None


def test_responses_in_sequence_last_repeats(scripted: ScriptedOpenAIServer) -> None:
    scripted.set_script({"rules": [{"match": "x", "responses": [{"text": "one"}, {"text": "two"}]}]})
    assert [ask(scripted, "x").choices[0].message.content for _ in range(4)] == ["one", "two", "two", "two"]
    scripted.set_script({"rules": [{"match": "x", "responses": [{"text": "one"}, {"text": "two"}]}]})
    assert ask(scripted, "x").choices[0].message.content == "one"  # set_script resets counters
    scripted.reset()
    assert scripted.hits == {} and scripted.requests == []
    assert ask(scripted, "x").choices[0].message.content == "one"  # so does reset


def test_usage_override(scripted: ScriptedOpenAIServer) -> None:
    scripted.set_script({"default": {"text": "hi", "usage": {"prompt_tokens": 123, "completion_tokens": 7}}})
    usage = ask(scripted, "x").usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (123, 7, 130)


# -- errors -----------------------------------------------------------------------------


def test_429_with_retry_after_then_success(scripted: ScriptedOpenAIServer) -> None:
    scripted.set_script({"rules": [{"match": "T shirts", "responses": [
        {"status": 429, "headers": {"Retry-After": 0}},
        {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt"}}},
    ]}]})
    with pytest.raises(openai.RateLimitError) as info:
        ask(scripted, "T shirts")
    assert info.value.status_code == 429
    assert info.value.response.headers["retry-after"] == "0"
    assert info.value.code == "rate_limit_exceeded"
    assert ask(scripted, "T shirts").choices[0].message.tool_calls[0].function.name == "productsUsingGET"


def test_sdk_retries_through_429(scripted: ScriptedOpenAIServer) -> None:
    scripted.set_script({"default": [{"status": 429, "headers": {"Retry-After": "0"}}, {"text": "done"}]})
    with client(scripted, max_retries=2) as sdk:
        reply = sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert reply.choices[0].message.content == "done"
    assert scripted.hits == {"default": 2}


def test_500_forever_with_openai_error_body(scripted: ScriptedOpenAIServer) -> None:
    scripted.set_script({"default": {"status": 500}})
    for _ in range(3):
        with pytest.raises(openai.InternalServerError) as info:
            ask(scripted, "x")
        assert info.value.body["type"] == "server_error"
    raw = httpx.post(f"{scripted.base_url}/chat/completions", json={"model": "m", "messages": []})
    assert raw.status_code == 500
    assert set(raw.json()["error"]) >= {"message", "type", "code"}


def test_custom_error_body(scripted: ScriptedOpenAIServer) -> None:
    scripted.set_script({"rules": [
        {"match": "full", "responses": [{"status": 400, "body": {"error": {"message": "bad", "type": "t", "code": "c"}}}]},
        {"match": "part", "responses": [{"status": 401, "body": {"message": "no key"}}]},
        {"match": "str", "responses": [{"status": 503, "body": "overloaded"}]},
    ]})
    url = f"{scripted.base_url}/chat/completions"
    def post(text: str) -> httpx.Response:
        return httpx.post(url, json={"model": "m", "messages": [{"role": "user", "content": text}]})
    assert post("full").json() == {"error": {"message": "bad", "type": "t", "code": "c"}}
    part = post("part")
    assert part.status_code == 401 and part.json()["error"]["message"] == "no key"
    assert part.json()["error"]["code"] == "invalid_api_key"
    assert post("str").json()["error"] == {"message": "overloaded", "type": "server_error", "param": None, "code": None}


def test_bad_requests(scripted: ScriptedOpenAIServer) -> None:
    base = scripted.base_url
    assert httpx.get(f"{base}/nope").status_code == 404
    assert httpx.get(f"{base}/chat/completions").status_code == 405
    bad = httpx.post(f"{base}/chat/completions", content=b"{not json", headers={"content-type": "application/json"})
    assert bad.status_code == 400 and "JSON" in bad.json()["error"]["message"]
    stream = httpx.post(f"{base}/chat/completions", json={"model": "m", "messages": [], "stream": True})
    assert stream.status_code == 400 and "stream" in stream.json()["error"]["message"]


@pytest.mark.parametrize("script, fragment", [
    ({"rules": [{"match": "x"}]}, "responses"),
    ({"rules": [{"match": "x", "responses": [{"txt": "typo"}]}]}, "txt"),
    ({"default": {"status": 200}}, "status"),
    ({"rules": [{"match": "re:(", "responses": [{"text": "x"}]}]}, "regex"),
    ({"default": {"tool_call": {"arguments": {}}}}, "tool_call"),
    ({"defualt": {"text": "x"}}, "defualt"),
    ("nonsense", "script"),
])
def test_bad_script_fails_at_set_script(scripted: ScriptedOpenAIServer, script: Any, fragment: str) -> None:
    with pytest.raises(ScriptError, match=fragment):
        scripted.set_script(script)


# -- timing and wire --------------------------------------------------------------------


def test_delay_honoured(scripted: ScriptedOpenAIServer) -> None:
    scripted.delay = 0.2
    start = time.perf_counter()
    ask(scripted, "x")
    assert time.perf_counter() - start >= 0.18  # a lower bound: a busy machine only adds to it
    scripted.delay = FOREVER
    scripted.set_script({"default": {"text": "fast", "delay": 0}})
    assert ask(scripted, "x").choices[0].message.content == "fast"  # per-response delay overrides the server's


def _fire(scripted: ScriptedOpenAIServer, count: int) -> list[int]:
    """``count`` chat calls at once from one event loop, on their own connections; their status codes."""
    async def fire() -> list[int]:
        async with httpx.AsyncClient(base_url=scripted.base_url, timeout=DEADLINE,
                                     limits=httpx.Limits(max_connections=count)) as http:
            replies = await asyncio.gather(*(
                http.post("/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "x"}]})
                for _ in range(count)))
        return [r.status_code for r in replies]

    return asyncio.run(fire())


def test_delays_run_concurrently(scripted: ScriptedOpenAIServer) -> None:
    """50 calls whose delay is longer than the test may wait: all 50 are read while the first still waits,
    so delays do not queue behind each other; then hold/release lets them go."""
    scripted.delay = FOREVER
    scripted.hold()  # release() sends them whatever their delay
    with ThreadPoolExecutor(1) as pool:
        codes = pool.submit(_fire, scripted, 50)
        wait_until(lambda: len(scripted.requests) == 50, what="50 requests read while none was answered")
        assert not codes.done()
        scripted.release()
        assert codes.result(timeout=DEADLINE) == [200] * 50


def test_hold_keeps_replies_until_release(scripted: ScriptedOpenAIServer) -> None:
    scripted.hold()
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(ask, scripted, "x")
        wait_until(lambda: len(scripted.requests) == 1, what="the request")
        assert not answer.done()
        scripted.release()
        assert answer.result(timeout=DEADLINE).choices[0].message.content
    assert ask(scripted, "y").choices[0].message.content  # released: replies flow again
    scripted.set_script({"rules": [{"match": "wait", "responses": [{"text": "held", "hold": True}]}],
                         "default": {"text": "free"}})
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(ask, scripted, "wait")
        wait_until(lambda: len(scripted.requests) == 3, what="the held request")
        assert ask(scripted, "other").choices[0].message.content == "free"  # only that response waits
        assert not held.done()
        scripted.release()
        assert held.result(timeout=DEADLINE).choices[0].message.content == "held"


def test_keep_alive_and_wire_format(scripted: ScriptedOpenAIServer) -> None:
    scripted.set_script({"default": {"tool_call": {"name": "f", "arguments": {"a": 1}}}})
    with httpx.Client(base_url=scripted.base_url) as http:
        first = http.post("/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "x"}]})
        second = http.post("/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "x"}]})
    assert first.headers["content-type"] == "application/json"
    assert first.headers.get("connection") != "close" and second.status_code == 200
    body = first.json()
    assert set(body) >= {"id", "object", "created", "model", "choices", "usage"}
    choice = body["choices"][0]
    assert set(choice) >= {"index", "message", "finish_reason"}
    call = choice["message"]["tool_calls"][0]
    assert call["type"] == "function" and call["function"] == {"name": "f", "arguments": '{"a": 1}'}
    assert set(body["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    assert body["id"] != second.json()["id"]


def test_pipelined_replies_stay_in_order(scripted: ScriptedOpenAIServer) -> None:
    """A slow first reply must not be overtaken by a fast second one on the same connection."""
    scripted.set_script([{"match": "slow", "responses": [{"text": "slow", "delay": 0.2}]},
                         {"match": "fast", "responses": [{"text": "fast", "delay": 0}]}])
    port = int(scripted.base_url.rsplit(":", 1)[1].split("/")[0])

    def request(text: str, close: bool = False) -> bytes:
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": text}]}).encode()
        head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n{'Connection: close' + chr(13) + chr(10) if close else ''}\r\n")
        return head.encode() + body

    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as sock:
        sock.sendall(request("slow") + request("fast", close=True))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.count(b"HTTP/1.1 200 OK") == 2
    assert data.index(b'"content":"slow"') < data.index(b'"content":"fast"')


def test_expect_100_continue_then_body(scripted: ScriptedOpenAIServer) -> None:
    """A client that waits for ``100 Continue`` before sending the body (curl does, over 1 KB) gets it."""
    port = int(scripted.base_url.rsplit(":", 1)[1].split("/")[0])
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "x"}]}).encode()
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head)
        assert sock.recv(65536).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 OK") and b'"object":"chat.completion"' in data


def test_chunked_request_body_is_read(scripted: ScriptedOpenAIServer) -> None:
    scripted.set_script({"rules": [{"match": "chunked", "responses": [{"text": "read it"}]}]})
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "sent chunked"}]}).encode()
    reply = httpx.post(f"{scripted.base_url}/chat/completions", content=iter([body[:10], body[10:]]),
                       headers={"content-type": "application/json"})
    assert reply.request.headers["transfer-encoding"] == "chunked"
    assert reply.json()["choices"][0]["message"]["content"] == "read it"


def test_oversized_body_is_refused_before_it_is_read(scripted: ScriptedOpenAIServer) -> None:
    port = int(scripted.base_url.rsplit(":", 1)[1].split("/")[0])
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000000\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head)
        data = sock.recv(65536)
    assert data.startswith(b"HTTP/1.1 413 ") and b"over the" in data


# -- other endpoints --------------------------------------------------------------------


def test_completions_endpoint(scripted: ScriptedOpenAIServer) -> None:
    scripted.set_script({"rules": [
        {"match": "Tool:", "responses": [{"tool_call": {"name": "productsUsingGET", "arguments": {"q": "shirt"}}}]},
        {"match": "re:^Say hi", "responses": [{"text": "hi"}]},
    ]})
    with client(scripted) as sdk:
        reply = sdk.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say hi")
        text = sdk.completions.create(model="m", prompt=["Pick a tool.\nTool:"]).choices[0].text
    assert reply.object == "text_completion" and reply.choices[0].text == "hi"
    assert reply.choices[0].finish_reason == "stop" and reply.usage.completion_tokens == 10
    assert json.loads(text) == {"name": "productsUsingGET", "arguments": {"q": "shirt"}}
    assert scripted.hits == {"re:^Say hi": 1, "Tool:": 1}
    assert [r["path"] for r in scripted.requests] == ["/v1/completions"] * 2


def test_models_endpoint(scripted: ScriptedOpenAIServer) -> None:
    with client(scripted) as sdk:
        assert [m.id for m in sdk.models.list()] == ["scripted-model"]
        scripted.set_script({"models": ["a", "b"]})
        assert [m.id for m in sdk.models.list()] == ["a", "b"]


# -- recording --------------------------------------------------------------------------


def test_requests_recorded(scripted: ScriptedOpenAIServer) -> None:
    ask(scripted, "hello")
    (req,) = scripted.requests
    assert req["path"] == "/v1/chat/completions" and req["method"] == "POST"
    assert req["headers"]["authorization"] == "Bearer x"
    assert req["json"]["messages"][-1] == {"role": "user", "content": "hello"}
    assert req["json"]["tools"] == TOOLS


def test_requests_not_recorded(scripted: ScriptedOpenAIServer) -> None:
    scripted.record = False
    ask(scripted, "hello")
    assert scripted.requests == [] and scripted.hits == {"default": 1}
    with ScriptedOpenAIServer(record=False) as own:
        ask(own, "hello")
        assert own.requests == []


def test_own_server_context_manager() -> None:
    with ScriptedOpenAIServer({"default": {"text": "own"}}) as server:
        assert server.base_url.startswith("http://127.0.0.1:") and server.base_url.endswith("/v1")
        assert ask(server, "x").choices[0].message.content == "own"
        url = server.base_url
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/models", timeout=DEADLINE)
    server.stop()  # idempotent


def test_port_in_use_raises(openai_server: ScriptedOpenAIServer) -> None:
    port = int(openai_server.base_url.rsplit(":", 1)[1].split("/")[0])
    with pytest.raises(OSError):
        ScriptedOpenAIServer(port=port).start()


# -- CLI --------------------------------------------------------------------------------


def test_cli_subprocess(tmp_path: Path) -> None:
    script = tmp_path / "script.yaml"
    script.write_text(
        'default: {text: "I cannot help with that."}\n'
        "rules:\n"
        '  - match: "T shirts"\n'
        "    responses:\n"
        "      - {tool_call: {name: productsUsingGET, arguments: {q: \"T shirt\", size: 5}}}\n"
    )
    with subprocess.Popen(
        [sys.executable, "-m", "permutate_nb.testing.scripted_server", "--port", "0", "--script", str(script),
         "--delay", "0.01"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as proc:
        try:
            base_url = proc.stdout.readline().strip()  # type: ignore[union-attr]
            assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1"), proc.stderr.read()  # type: ignore[union-attr]
            with openai.OpenAI(base_url=base_url, api_key="x", max_retries=0) as sdk:
                reply = sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "T shirts"}])
            call = reply.choices[0].message.tool_calls[0]
            assert call.function.name == "productsUsingGET"
            assert json.loads(call.function.arguments) == {"q": "T shirt", "size": 5}
        finally:
            proc.terminate()
        assert proc.wait(timeout=DEADLINE) == 0  # SIGTERM is a clean shutdown


def test_cli_bad_script_exits_2(tmp_path: Path) -> None:
    script = tmp_path / "bad.yaml"
    script.write_text("rules: [{match: x}]\n")
    done = subprocess.run([sys.executable, "-m", "permutate_nb.testing.scripted_server", "--script", str(script)],
                          capture_output=True, text=True, timeout=DEADLINE)
    assert done.returncode == 2 and "responses" in done.stderr


def test_permutate_home_is_isolated(permutate_home: Path) -> None:
    import os

    assert os.environ["PERMUTATE_HOME"] == str(permutate_home)
    assert os.environ["OPENAI_API_KEY"]


@pytest.mark.parametrize("response", [
    {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}},
    {"tool_calls": [{"name": "productsUsingGET", "arguments": "{bad"}, "$first_tool"], "text": "Both: "},
    {"text": "Plain text", "usage": {"prompt_tokens": 7, "completion_tokens": 3}},
    {"text": "the stand-in 987654321 in the script's own text"},  # no template: encoded per request
])
@pytest.mark.parametrize("chat", [True, False])
def test_templated_reply_is_the_directly_encoded_one(response: dict[str, Any], chat: bool) -> None:
    """A reply filled into its cached template is byte for byte what encoding it for the request makes."""
    from permutate_nb.testing.openai_replies import Replies, _reply_json

    replies = Replies({"default": response}, 0.0, False)
    body = {"model": "gpt-test", "tools": TOOLS, "messages": [{"role": "user", "content": "hi"}], "prompt": "hi"}
    raw = json.dumps(body).encode()
    path = "/v1/chat/completions" if chat else "/v1/completions"
    for seq in (1, 2, 123456789):  # the second and later replies come from the template
        replies.seq = seq - 1
        before = int(time.time())
        sent = replies.answer("POST", path, {}, raw)
        assert sent.status == 200
        created = json.loads(sent.body)["created"]
        assert before <= created <= int(time.time())
        usage = response.get("usage", {})
        prompt, completion = usage.get("prompt_tokens", len(raw) // 4), usage.get("completion_tokens", 10)
        scripted = replies.script.default.responses[0]
        assert sent.body == _reply_json(scripted, chat, "gpt-test", "productsUsingGET", seq, created, prompt,
                                        completion, prompt + completion)
    templated = [t is not None for t in scripted.templates.values()]
    assert templated == ["987654321" not in response.get("text", "")]
