"""One eval output (a case x model) as a transcript: question, context, the prompt sent, the generated
answer against the reference, each metric's score with the judge's reasoning, and the trace spans.

Its outcome for the views: ``errored`` when the answer or a judgement failed (no score), ``wrong``
when a metric scored below ``LOW_SCORE``, else ``passed``; the reasons name the metric.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .html_parts import esc, field_table, fold, pre, section, verdict_badge

__all__ = ["LOW_SCORE", "eval_outcome", "eval_reasons", "eval_output_html", "eval_output_text"]

#: A score below this counts as wrong in the views (scores run from 0 to 1).
LOW_SCORE = 0.5


def _scores(output: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in output.get("metric_scores") or () if isinstance(s, Mapping)]


def eval_reasons(output: Mapping[str, Any]) -> list[str]:
    """``errored: generation``, ``errored: judging METRIC`` or ``low score: METRIC`` (empty when all is well)."""
    if output.get("generation_error"):
        return ["errored: generation"]
    reasons = [f"errored: judging {s.get('metric_type')}" for s in _scores(output) if s.get("failed")]
    reasons += [f"low score: {s.get('metric_type')}" for s in _scores(output)
                if not s.get("failed") and isinstance(s.get("score"), (int, float)) and s["score"] < LOW_SCORE]
    return reasons


def eval_outcome(output: Mapping[str, Any]) -> str:
    """``errored``, ``wrong`` or ``passed``: the verdict the views colour and filter one output by."""
    reasons = eval_reasons(output)
    if any(r.startswith("errored") for r in reasons):
        return "errored"
    return "wrong" if reasons else "passed"


def _reference(output: Mapping[str, Any]) -> tuple[Any, Any, list[Any]]:
    data = ((output.get("test_case_version") or {}).get("test_case_data")) or {}
    chunks = ((data.get("expected_extra_info") or {}).get("chunks")) or []
    return data.get("input"), data.get("expected_output"), chunks


def _metric_rows(output: Mapping[str, Any]) -> str:
    rows = []
    for s in _scores(output):
        meta = s.get("llm_metadata") or {}
        score = s.get("score")
        low = s.get("failed") or (isinstance(score, (int, float)) and score < LOW_SCORE)
        shown = "–" if score is None else f"{score:.3f}"
        tokens = sum((u.get("prompt_tokens") or 0) + (u.get("completion_tokens") or 0) for u in meta.get("usage") or ())
        rows.append(f'<tr class="{"pn-bad" if low else "pn-ok"}"><td>{esc(s.get("metric_type"))}</td><td>{esc(shown)}</td>'
                    f'<td>{"judgement failed" if s.get("failed") else ""}</td><td>{esc(meta.get("reasoning") or "")}</td>'
                    f"<td>{tokens or ''}</td></tr>")
    if not rows:
        return ""
    return ("<table><tr><th>metric</th><th>score</th><th></th><th>the judge's reasoning</th><th>judge tokens</th></tr>"
            f"{''.join(rows)}</table>")


def _spans(output: Mapping[str, Any]) -> str:
    spans = ((output.get("interaction") or {}).get("trace_spans")) or []
    rows = "".join(
        f'<tr class="{"pn-ok" if s.get("operation_status") == "SUCCESS" else "pn-bad"}"><td>{esc(s.get("node_id") or s.get("operation_type"))}</td>'
        f"<td>{esc(s.get('operation_status'))}</td><td>{esc(s.get('duration_ms'))} ms</td>"
        f"<td>{fold('input and output', pre({'input': s.get('input'), 'output': s.get('output')}))}</td></tr>"
        for s in spans if isinstance(s, Mapping))
    return f"<table><tr><th>span</th><th>status</th><th>time</th><th></th></tr>{rows}</table>" if rows else ""


def eval_output_html(output: Mapping[str, Any]) -> str:
    """The transcript of one eval output."""
    outcome = eval_outcome(output)
    question, reference, chunks = _reference(output)
    interaction = output.get("interaction") or {}
    prompt = (interaction.get("input") or {}).get("prompt")
    answer = (output.get("output") or {}).get("generation_output")
    usage = output.get("generation_usage") or {}
    title = (f"<div><b>{esc(output.get('test_case_id'))} · {esc(output.get('model'))}</b> {verdict_badge(outcome)} "
             f"{esc('; '.join(eval_reasons(output)))}</div>")
    compared = (f"<table><tr><th>generated answer</th><th>reference</th></tr><tr><td>{pre(answer if answer is not None else '(none)')}"
                f"</td><td>{pre(reference if reference is not None else '(none)')}</td></tr></table>")
    if output.get("generation_error"):
        compared += f'<div class="pn-bad">{esc(output["generation_error"])}</div>'
    parts = [title, section("question", pre(question or "")),
             section("context", "".join(pre(c.get("text") if isinstance(c, Mapping) else c) for c in chunks)),
             fold("prompt sent", pre(prompt)) if prompt else "",
             section("answer against reference", compared),
             section("metrics", _metric_rows(output)),
             section("tokens, cost and time", field_table([
                 ("tokens", f"{usage.get('prompt_tokens', 0)} sent + {usage.get('completion_tokens', 0)} received"
                  if usage else None),
                 ("cost $", usage.get("cost")), ("time ms", interaction.get("duration_ms"))])),
             section("trace spans", _spans(output))]
    return f'<div class="pn-t">{"".join(parts)}</div>'


def eval_output_text(output: Mapping[str, Any]) -> str:
    """The transcript as plain text, for a notebook's ``text/plain`` (outcome, question, answer, reference, scores)."""
    question, reference, _ = _reference(output)
    lines = [f"{output.get('test_case_id')} · {output.get('model')}: {eval_outcome(output)} "
             f"{'; '.join(eval_reasons(output))}".rstrip(),
             f"question: {question}", f"answer: {(output.get('output') or {}).get('generation_output')}",
             f"reference: {reference}"]
    for s in _scores(output):
        lines.append(f"{s.get('metric_type')}: {s.get('score')} ({(s.get('llm_metadata') or {}).get('reasoning')})")
    return "\n".join(lines)
