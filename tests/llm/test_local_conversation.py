"""The embedded model in a conversation: the shipped example runs offline, tool results go back as
messages every chat template knows, and after a result the model answers in text."""

from __future__ import annotations

from pathlib import Path

import pytest

import permutate_nb as pn
from permutate_nb.core.llm.base import ChatRequest
from permutate_nb.core.llm.local import _calls_tools, plain_messages

EXAMPLE = Path(pn.__file__).parent / "examples" / "conversation.yaml"
HISTORY = (
    {"role": "user", "content": "Add milk"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "add_item", "arguments": '{"item": "milk"}'}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "added milk"},
)


def test_the_history_in_plain_roles_and_text_after_a_tool_result() -> None:
    assert plain_messages(HISTORY) == [
        {"role": "user", "content": "Add milk"},
        {"role": "assistant", "content": '{"name": "add_item", "arguments": {"item": "milk"}}'},
        {"role": "user", "content": "Result of add_item: added milk"}]
    assert not _calls_tools(ChatRequest(messages=HISTORY, tools_json="[]"))
    assert _calls_tools(ChatRequest(messages=(*HISTORY, {"role": "assistant", "content": "ok"},
                                              {"role": "user", "content": "and eggs"}), tools_json="[]"))


@pytest.mark.slow  # about a minute on 2 cores: four calls of the embedded model
def test_the_example_conversation_runs_offline_on_the_embedded_model() -> None:
    result = pn.run(EXAMPLE, provider="local", cache=False)
    (row,) = result.details
    assert row.is_run_completed, row.error
    roles = [m["role"] for m in row.transcript]
    assert roles == ["user", "assistant", "tool", "assistant"] * 2, row.transcript
    assert [m["tool_calls"][0]["name"] for m in row.transcript if m.get("tool_calls")] == ["add_item", "add_item"]
    assert row.passed and row.end_state == {"passed": True, "mismatches": [], "state": {"items": ["milk", "eggs"]}}
