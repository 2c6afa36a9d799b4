"""Transcripts and the failure-first views: what a run sent, was offered, answered and was scored on."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import permutate_nb as pn
from permutate_nb.core.jobs.batch_result import BatchResult, batch_frame
from permutate_nb.core.scoring.reasons import failure_groups, failure_reasons
from permutate_nb.notebook.run_list import PAGE_ROWS
from permutate_nb.notebook.transcript import job_run_html
from permutate_nb.notebook.view import render_html

from ..evals.test_evals import CASES, JUDGE
from ..helpers import PLANTED, mixed_request


def _section(html: str, title: str) -> str:
    """The HTML from a transcript's section heading to the next one."""
    start = html.index(f"<h4>{title}</h4>")
    end = html.find("<h4>", start + 1)
    return html[start:end if end != -1 else None]


@pytest.fixture
def mixed(scripted: Any) -> Any:
    return pn.run(mixed_request(scripted), cache=False)


def test_a_wrong_run_shows_prompt_tools_calls_and_each_mismatch(mixed: Any) -> None:
    index = [d.test_case_name for d in mixed.details].index("wrong_size")
    html = mixed.transcript(index).html()
    assert "Show me 5 T shirts from Klarna" in _section(html, "prompt sent")
    assert "productsUsingGET" in _section(html, "tools offered (klarna)") and "schemas" in html
    reply = _section(html, "model reply")
    assert "GET https://www.klarna.com/us/shopping/public/openai/v0/products" in reply
    table = _section(html, "expected against actual")
    rows = re.findall(r'<tr class="(pn-ok|pn-bad)"><th>([^<]+)</th>', table)
    assert rows == [("pn-ok", "plugin"), ("pn-ok", "operation"), ("pn-ok", "method"),
                    ("pn-bad", "parameter q"), ("pn-bad", "parameter size")]
    assert "sent +" in _section(html, "tokens, cost and time")
    assert PLANTED not in html and "&lt;/script&gt;&lt;script&gt;" in html  # the reply's script is text
    text = str(mixed.transcript(index))
    assert "wrong parameter mismatch: q; parameter mismatch: size" in text and "size: value (expected 5, got 6)" in text


def test_an_errored_run_shows_the_error_and_show_takes_a_row(mixed: Any) -> None:
    row = next(d for d in mixed.details if not d.is_run_completed)
    handle = mixed.show(row)
    assert handle == mixed.transcript(handle.index)
    html = handle.html()
    assert "HTTP 500" in html and 'class="pn-badge pn-errored-b">errored<' in html
    assert "expected against actual" not in html  # no verdict, nothing to compare
    assert mixed.show(mixed.details_df.iloc[handle.index]).index == handle.index  # a DataFrame row too
    with pytest.raises(IndexError, match=r"^run 3 is out of range: this result has 3 runs \(0 to 2\)$"):
        mixed.transcript(3)


def test_the_view_opens_on_failures_grouped_by_reason(mixed: Any) -> None:
    assert [(reason, len(rows)) for reason, rows in failure_groups(d.to_dict() for d in mixed.details)] == [
        ("parameter mismatch: q", 1), ("parameter mismatch: size", 1), ("errored", 1)]
    html = mixed._repr_mimebundle_()["text/html"]
    assert html.index("Needs attention: 2 of 3 runs, by reason") < html.index("Overall accuracy by permutation")
    assert "parameter mismatch: size: 1 run</summary>" in html and "errored: 1 run</summary>" in html
    for label in ("all (3)", "passed (1)", "wrong (1)", "errored (1)"):
        assert f">{label}</label>" in html
    assert PLANTED not in html


def test_large_results_are_paged_not_cut(scripted: Any) -> None:
    result = pn.run(mixed_request(scripted, repeats=40), cache=False)  # 120 runs
    html = render_html(result, max_rows=None)
    runs = html[html.index('class="pn-v pn-runs'):]
    pages = -(-120 // PAGE_ROWS)
    assert runs.count('<details class="pn-row') == 120 and f'class="pn-page pn-page-{pages}"' in runs
    bodies = runs.split('<div class="pn-page pn-page-')[1:]
    assert [b.count("pn-row pn-passed") for b in bodies] == [0, 20, 20]  # 40 wrong and 40 errored come first
    assert [b.count('<details class="pn-row') for b in bodies] == [PAGE_ROWS, PAGE_ROWS, 20]
    capped = render_html(result, max_rows=60)
    assert "60 more runs (passed ones last)" in capped


def test_a_conversation_row_reads_as_messages_with_the_wrong_step_marked() -> None:
    row = {"permutation_name": "p", "test_case_name": "order", "language": "English", "is_run_completed": True,
           "passed": False, "prompt": "book it",
           "transcript": [
               {"role": "user", "content": "Find flights to Paris"},
               {"role": "assistant", "content": None, "tool_calls": [{"name": "search", "arguments": {"to": "Paris"}}]},
               {"role": "tool", "tool_call_id": "c1", "content": "[{\"id\": 7}]"},
               {"role": "assistant", "content": "Flight 7 found."},
               {"role": "user", "content": "Book it for <b>two</b>"},
               {"role": "assistant", "content": None, "tool_calls": [{"name": "book", "arguments": {"id": 7, "seats": 1}}]},
               {"role": "tool", "tool_call_id": "c2", "content": "booked"},
               {"role": "assistant", "content": "Booked."}],
           "turns": [
               {"turn": 1, "verdict": "passed", "calls_made": [{"name": "search"}], "calls_expected": [{"name": "search"}],
                "mismatches": [], "final_text": "Flight 7 found."},
               {"turn": 2, "verdict": "wrong", "calls_made": [{"name": "book"}], "calls_expected": [{"name": "book"}],
                "mismatches": [{"parameter": "seats", "expected": 2, "actual": 1, "reason": "value"}],
                "final_text": "Booked."}]}
    assert failure_reasons(row) == ["wrong at turn 2"]
    html = job_run_html(row, {}, None)
    roles = re.findall(r'<div class="pn-msg pn-msg-(\w+)( pn-step-bad)?"><b>([^<]+)</b>', html)
    assert [(role, bool(bad), head) for role, bad, head in roles] == [
        ("user", False, "user"), ("assistant", False, "assistant · tool call"), ("tool", False, "tool result (c1)"),
        ("assistant", False, "assistant"), ("user", False, "user"), ("assistant", True, "assistant · tool call"),
        ("tool", True, "tool result (c2)"), ("assistant", False, "assistant")]
    assert "tool call: <code>book({&quot;id&quot;: 7, &quot;seats&quot;: 1})</code>" in html
    assert "Book it for &lt;b&gt;two&lt;/b&gt;" in html
    turns = _section(html, "turns")
    assert turns.count('class="pn-bad"') == 1 and "seats: value (expected 2, got 1)" in turns


def test_an_eval_transcript_shows_answer_reference_reasoning_and_spans(scripted: Any, tmp_path: Path) -> None:
    scripted.set_script({"rules": [{"match": JUDGE, "responses": [{"text": "no json here"}]},
                                   {"match": "capital", "responses": [{"text": "Paris is the capital of France."}]},
                                   {"match": "Hamlet", "responses": [{"text": "Shakespeare"}]}]})
    settings = {"gen": {"model_name": "gpt-4o-mini", "base_url": scripted.base_url},
                "judge": {"model_name": "gpt-4o", "base_url": scripted.base_url}}
    result = pn.evaluate(CASES, models=["gen"], judge_model="judge", model_settings=settings,
                         metrics=["answer-correctness", "token-f1"])
    html = result.transcript(0).html()
    answer = _section(html, "answer against reference")
    assert "Paris is the capital of France." in answer and "<pre>Paris</pre>" in answer
    metrics = _section(html, "metrics")
    assert re.search(r'<tr class="pn-bad"><td>answer-correctness</td><td>–</td><td>judgement failed</td>'
                     r"<td>the judge&#x27;s answer is not JSON", metrics)
    spans = _section(html, "trace spans")
    assert "completion" in spans and "evaluation:answer-correctness" in spans and "evaluation:token-f1" in spans
    view = result._repr_mimebundle_()["text/html"]
    assert "errored: judging answer-correctness: 2 runs</summary>" in view
    assert "answer-correctness: None (the judge's answer is not JSON" in str(result.transcript(0))
    report = result.write(tmp_path / "eval.html").read_text(encoding="utf-8")
    assert "<b>Outputs (2), wrong and errored first</b>" in report and report.count('<div class="pn-t">') == report.count("evaluation:token-f1") >= 4


def test_a_batch_row_transcript_and_its_errored_group(tmp_path: Path) -> None:
    rows = [{"row": 1, "prompt": "Say <hi>", "model": "m", "result": "hi", "status": "completed", "error": None,
             "duration_sec": 0.1, "prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4, "cost": 0.0},
            {"row": 2, "prompt": "Say bye", "model": "m", "result": None, "status": "timeout", "error": "timed out after 5 s",
             "duration_sec": 5.0, "prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "cost": None}]
    result = BatchResult("abc", "PARTIAL_SUCCESS", batch_frame(rows))
    html = result.show({"row": 2}).html()
    assert "timed out after 5 s" in html and "Say bye" in _section(html, "prompt sent")
    view = result._repr_mimebundle_()["text/html"]
    assert "errored: timeout: 1 run</summary>" in view and "Say &lt;hi&gt;" in view and "Say <hi>" not in view
    assert isinstance(result.to_pandas(), pd.DataFrame)
    report = result.write(tmp_path / "batch.html").read_text(encoding="utf-8")
    assert "<b>Rows (2), wrong and errored first</b>" in report and "Say <hi>" not in report


def test_a_translated_run_shows_the_prompt_sent_and_its_original() -> None:
    request = {"test_cases": [{"test_case": {"name": "shirts", "prompt": "Show me 5 T shirts"}}],
               "permutations": [{"name": "p", "tool_selector": {"plugin_group_name": "g"}}]}
    tools = {"g": {"tools": [{"name": "<productsUsingGET>", "parameters": {"type": "object"}}]}}
    row = {"test_case_name": "shirts", "permutation_name": "p", "language": "French", "is_run_completed": True,
           "passed": True, "prompt": "Montre-moi 5 T-shirts", "calls_made": [], "plugin_name": "k"}
    html = job_run_html(row, request, tools)
    sent = _section(html, "prompt sent")
    assert sent.index("Montre-moi 5 T-shirts") < sent.index("translated from:") < sent.index("Show me 5 T shirts")
    assert "&lt;productsUsingGET&gt;" in _section(html, "tools offered (g)") and "<productsUsingGET>" not in html
    listed = job_run_html(row, request, tools, schemas=False, tools_anchor="v1-tools")
    assert "<summary>schemas</summary>" in html and "&quot;type&quot;: &quot;object&quot;" in html
    assert '<a href="#v1-tools">schemas</a>' in listed and "<summary>schemas</summary>" not in listed
