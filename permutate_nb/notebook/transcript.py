"""One run as a transcript: what was sent, what was offered, what came back, and how it was scored.

For a permutate run: the prompt actually sent (and the original, for a translated run), the tools
offered (names; schemas on demand), the model's calls and raw reply, expected against actual with
each mismatch highlighted, then tokens, cost and time. A conversation row (``transcript``:
OpenAI-style messages, ``turns``: a verdict per turn) reads as user / assistant / tool call / tool
result, the steps of a wrong turn highlighted. A batch row shows its prompt, reply and cost.
Every string is escaped on its way in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.html_text import plain_text
from ..core.scoring.matching import describe_mismatches
from ..core.scoring.reasons import failure_reasons, outcome_of, passing
from .html_parts import esc, field_table, fold, json_text, pre, section, verdict_badge

__all__ = ["job_run_html", "batch_row_html", "conversation_html", "run_title", "expected_case", "transcript_text"]


def run_title(row: Mapping[str, Any]) -> str:
    """``case · permutation · language · repeat n`` and the verdict, with its reason when wrong or errored."""
    outcome = outcome_of(row)
    parts = [str(row.get("test_case_name")), str(row.get("permutation_name")), str(row.get("language"))]
    if row.get("repeat"):
        parts.append(f"repeat {row['repeat']}")
    reasons = "; ".join(failure_reasons(row))
    why = f" <span>{esc(reasons)}</span>" if reasons and reasons != outcome else ""
    return f"<div><b>{esc(' · '.join(parts))}</b> {verdict_badge(outcome)}{why}</div>"


def expected_case(request: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The request's test case called ``name`` (flat or ``test_case:`` nested), or an empty dict."""
    for case in request.get("test_cases") or ():
        if isinstance(case, Mapping):
            case = case.get("test_case", case) if "name" not in case else case
            if isinstance(case, Mapping) and case.get("name") == name:
                return dict(case)
    return {}


def _group_of(request: Mapping[str, Any], permutation: str) -> str | None:
    for p in request.get("permutations") or ():
        if isinstance(p, Mapping):
            p = p.get("permutation", p) if "name" not in p else p
            if isinstance(p, Mapping) and p.get("name") == permutation:
                return (p.get("tool_selector") or {}).get("plugin_group_name")
    return None


def _tools(tools: Mapping[str, Any] | None, group: str | None, schemas: bool, anchor: str | None) -> str:
    offered = list(((tools or {}).get(group) or {}).get("tools") or ()) if group else []
    if not offered:
        return ""
    names = ", ".join(esc(t.get("name")) for t in offered)
    if schemas:
        more = fold("schemas", "".join(f"<b>{esc(t.get('name'))}</b>{pre(t.get('parameters') or {})}" for t in offered))
    else:
        more = f' · <a href="#{esc(anchor)}">schemas</a>' if anchor else ""
    return section(f"tools offered ({group})", f"<div>{names}{more}</div>")


def _calls(row: Mapping[str, Any]) -> str:
    calls = row.get("calls_made")
    if calls is None and row.get("plugin_operation"):
        calls = [{"tool": None, "plugin": row.get("plugin_name"), "api": row.get("plugin_operation"),
                  "method": row.get("plugin_method"), "parameters": row.get("plugin_parameters_mapped")}]
    if not calls:
        return "<div>no call</div>" if row.get("is_run_completed") else ""
    body = "".join(f"<tr><td>{esc(c.get('tool') or '')}</td><td>{esc(c.get('method') or '')} {esc(c.get('api') or '')}"
                   f"</td><td>{esc(plain_text(c.get('parameters')))}</td></tr>" for c in calls)
    return f"<table><tr><th>tool</th><th>operation</th><th>arguments</th></tr>{body}</table>"


def _reply(row: Mapping[str, Any]) -> str:
    parts = [_calls(row)]
    if row.get("raw_response"):
        parts.append(fold("raw reply", pre(row["raw_response"]), open_=not row.get("calls_made")))
    if row.get("final_output"):
        parts.append(f"<div>final output:</div>{pre(row['final_output'])}")
    if row.get("intermediate_steps"):
        parts.append(fold("intermediate steps", pre(row["intermediate_steps"])))
    if row.get("error"):
        parts.append(f'<div class="pn-bad">{esc(row["error"])}</div>')
    return "".join(parts)


def _line(name: str, expected: Any, actual: Any, ok: bool, note: str = "") -> str:
    return (f'<tr class="{"pn-ok" if ok else "pn-bad"}"><th>{esc(name)}</th><td>{esc(plain_text(expected))}</td>'
            f"<td>{esc(plain_text(actual))}</td><td>{esc(note)}</td></tr>")


def _single_expected(row: Mapping[str, Any], case: Mapping[str, Any]) -> list[str]:
    lines = []
    first = (row.get("calls_made") or [{}])[0]
    if case.get("expected_plugin_used") is not None:
        lines.append(_line("plugin", case["expected_plugin_used"], first.get("plugin") or row.get("plugin_name"),
                           bool(row.get("is_plugin_detected"))))
    if case.get("expected_api_used") is not None:
        lines.append(_line("operation", case["expected_api_used"], row.get("plugin_operation"),
                           bool(row.get("is_plugin_operation_found"))))
    if case.get("expected_method"):
        method = row.get("plugin_method")
        lines.append(_line("method", case["expected_method"], method,
                           str(method or "").lower() == str(case["expected_method"]).lower()))
    mismatches = {m.get("parameter"): m for m in row.get("parameter_mismatches") or ()}
    given = row.get("plugin_parameters_mapped") or {}
    for name, value in (case.get("expected_parameters") or {}).items():
        m = mismatches.pop(name, None)
        lines.append(_line(f"parameter {name}", value, given.get(name, "(missing)") if isinstance(given, Mapping) else given,
                           m is None, describe_mismatches([m]) if m else ""))
    for name, m in mismatches.items():  # unexpected ones (strict mode)
        lines.append(_line(f"parameter {name}", m.get("expected"), m.get("actual"), False, describe_mismatches([m])))
    return lines


def _multi_expected(row: Mapping[str, Any]) -> list[str]:
    expected, made = row.get("calls_expected") or [], row.get("calls_made") or []
    if not expected:
        return [_line("calls", "no call", made or "no call", not made)]
    lines, paired = [], set()
    for p in row.get("call_pairings") or ():
        j, k = p.get("expected"), p.get("made")
        paired.add(k)
        want = expected[j] if isinstance(j, int) and j < len(expected) else None
        got = made[k] if isinstance(k, int) and k < len(made) else "(no call left)"
        lines.append(_line(f"call {j + 1 if isinstance(j, int) else '?'}", want, got, bool(p.get("passed")),
                           describe_mismatches(p.get("parameter_mismatches"))))
    for k, call in enumerate(made):
        if k not in paired:
            lines.append(_line("extra call", None, call, False, "not expected"))
    return lines


def _expected(row: Mapping[str, Any], case: Mapping[str, Any]) -> str:
    if not row.get("is_run_completed"):
        return ""
    lines = _multi_expected(row) if row.get("calls_expected") is not None else _single_expected(row, case)
    if not lines:
        return ""
    return f"<table><tr><th></th><th>expected</th><th>actual</th><th>why</th></tr>{''.join(lines)}</table>"


def _costs(row: Mapping[str, Any]) -> str:
    cost = row.get("llm_api_cost")
    return field_table([
        ("tokens", f"{row.get('prompt_tokens', 0)} sent + {row.get('completion_tokens', 0)} received = "
                   f"{row.get('total_llm_tokens_used', 0)}"),
        ("cost $", "no price for this model" if cost is None else f"{cost:.6f}"),
        ("time s", f"{row.get('response_time_sec') or 0:.3f}"),
        ("attempts", row.get("attempts")), ("cached", "yes" if row.get("cached") else None),
    ])


def _message(message: Mapping[str, Any], bad: bool) -> str:
    role = str(message.get("role") or "?")
    cls = f"pn-msg pn-msg-{esc(role)}" + (" pn-step-bad" if bad else "")
    parts = []
    if message.get("content"):
        parts.append(pre(message["content"]))
    for call in message.get("tool_calls") or ():
        fn = call.get("function", call) if isinstance(call, Mapping) else {}
        parts.append(f"<div>tool call: <code>{esc(fn.get('name'))}({esc(plain_text(fn.get('arguments')))})</code></div>")
    label = {"tool": "tool result", "assistant": "assistant" + (" · tool call" if message.get("tool_calls") else "")}
    head = label.get(role, role) + (f" ({message['tool_call_id']})" if message.get("tool_call_id") else "")
    return f'<div class="{cls}"><b>{esc(head)}</b>{"".join(parts)}</div>'


def conversation_html(row: Mapping[str, Any]) -> str:
    """The messages by turn (a turn starts at a user message), the steps of a wrong turn highlighted, then
    the turns' verdicts with the calls made against those expected."""
    turns = [t for t in row.get("turns") or () if isinstance(t, Mapping)]
    wrong = {i for i, t in enumerate(turns) if not passing(t.get("verdict"))}
    turn, out = -1, []
    for message in row.get("transcript") or ():
        if not isinstance(message, Mapping):
            continue
        if message.get("role") == "user":
            turn += 1
            out.append(f"<div><i>turn {turn + 1}</i></div>")
        step = message.get("role") in ("assistant", "tool") and (message.get("tool_calls") or message.get("role") == "tool")
        out.append(_message(message, bool(step) and turn in wrong))
    table = "".join(
        f'<tr class="{"pn-bad" if i in wrong else "pn-ok"}"><td>{esc(t.get("turn", i + 1))}</td><td>{esc(t.get("verdict"))}</td>'
        f"<td>{esc(plain_text(t.get('calls_made')))}</td><td>{esc(plain_text(t.get('calls_expected')))}</td>"
        f"<td>{esc(_mismatch_text(t.get('mismatches')))}</td><td>{esc(t.get('final_text') or '')}</td></tr>"
        for i, t in enumerate(turns))
    verdicts = (f"<table><tr><th>turn</th><th>verdict</th><th>calls made</th><th>calls expected</th><th>mismatches</th>"
                f"<th>final text</th></tr>{table}</table>") if table else ""
    return section("conversation", "".join(out)) + section("turns", verdicts)


def _mismatch_text(mismatches: Any) -> str:
    if isinstance(mismatches, list) and all(isinstance(m, Mapping) and "parameter" in m for m in mismatches):
        return describe_mismatches(mismatches)
    return "" if not mismatches else plain_text(mismatches)


def job_run_html(row: Mapping[str, Any], request: Mapping[str, Any], tools: Mapping[str, Any] | None, *,
                 schemas: bool = True, tools_anchor: str | None = None) -> str:
    """One permutate (or conversation) run's transcript; ``schemas``: the tools' schemas inline, else a
    link to ``tools_anchor`` (a list of runs shows them once)."""
    case = expected_case(request, str(row.get("test_case_name")))
    group = _group_of(request, str(row.get("permutation_name")))
    prompt = pre(row.get("prompt") or "")
    original = case.get("prompt")
    if original and original != row.get("prompt"):
        prompt += f"<div>translated from:</div>{pre(original)}"
    conversation = isinstance(row.get("transcript"), list)
    parts = [run_title(row), f"<div>{esc(row.get('permutation_summary') or '')}</div>",
             conversation_html(row) if conversation else section("prompt sent", prompt),
             _tools(tools, group, schemas, tools_anchor),
             "" if conversation else section("model reply", _reply(row)),
             section("expected against actual", _expected(row, case)),
             section("tokens, cost and time", _costs(row)),
             fold("all fields", pre({k: v for k, v in row.items() if k != "transcript"}))]
    return f'<div class="pn-t">{"".join(parts)}</div>'


def batch_row_html(row: Mapping[str, Any]) -> str:
    """A batch row: its prompt as sent, the model's reply or error, tokens, cost and time."""
    status = str(row.get("status") or "")
    outcome = "passed" if status == "completed" else "errored"
    title = f"<div><b>row {esc(row.get('row'))} · {esc(row.get('model'))}</b> {verdict_badge(outcome)} {esc(status)}</div>"
    reply = pre(row.get("result")) if row.get("result") not in (None, "") else ""
    if row.get("error"):
        reply += f'<div class="pn-bad">{esc(row["error"])}</div>'
    costs = field_table([("tokens", f"{row.get('prompt_tokens') or 0} sent + {row.get('completion_tokens') or 0} received"),
                         ("cost $", row.get("cost")), ("time s", row.get("duration_sec"))])
    return (f'<div class="pn-t">{title}{section("prompt sent", pre(row.get("prompt") or ""))}'
            f'{section("model reply", reply)}{section("tokens, cost and time", costs)}'
            f'{fold("all fields", pre(dict(row)))}</div>')


def transcript_text(row: Mapping[str, Any]) -> str:
    """A few plain lines for the text display (a terminal, a log)."""
    reasons = "; ".join(r for r in failure_reasons(row) if r != outcome_of(row))
    lines = [f"{row.get('test_case_name')} · {row.get('permutation_name')} · {row.get('language')}: "
             f"{outcome_of(row)} {reasons}".rstrip(),
             f"prompt: {row.get('prompt')}"]
    for call in row.get("calls_made") or ():
        lines.append(f"call: {call.get('method') or ''} {call.get('api')} {json_text(call.get('parameters'))}")
    if row.get("error"):
        lines.append(f"error: {row['error']}")
    if row.get("parameter_mismatches"):
        lines.append(f"mismatches: {describe_mismatches(row['parameter_mismatches'])}")
    lines.append(f"tokens {row.get('total_llm_tokens_used', 0)}, cost {row.get('llm_api_cost')}, "
                 f"time {row.get('response_time_sec')} s")
    return "\n".join(lines)
