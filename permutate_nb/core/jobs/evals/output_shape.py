"""One eval output in seed 004's test-case-output shape (``applicationTestCaseOutputs.retrieve``).

Every field of the document is present, null where we have no value (accounts, application
specs and variants, users). The interaction is the case x model unit: its ``trace_spans`` are the
generation (the root) and one evaluation span per metric, each pointing at the interaction
(``trace_id``, ``application_interaction_id``) and the generation (``parent_id``). Our own fields
(``model``, ``generation_error``, ``generation_usage``, ``failed`` in a score) sit beside them.

Metric types the document lists keep their names; the others (``exact-match``, ``token-f1``, ...)
keep theirs too and are listed in the extension field ``custom_metric_types``.
"""

from __future__ import annotations

import uuid
from typing import Any

__all__ = ["DOCUMENT_METRIC_TYPES", "interaction", "span_links", "test_case_output"]

#: seed 004's ``metric_type`` values.
DOCUMENT_METRIC_TYPES = frozenset({"answer-correctness", "answer-relevance", "faithfulness", "context-recall",
                                   "coherence", "grammar", "moderation", "safety"})
_SPAN_NULLS = ("application_variant_id", "group_id", "account_id", "created_by_user_id", "created_by_identity_type")


def new_id() -> str:
    return uuid.uuid4().hex


def span_links(spans: list[dict[str, Any]], interaction_id: str) -> list[dict[str, Any]]:
    """Give each span the document's links: ``node_id``, ``trace_id``, ``parent_id`` (the generation
    for evaluation spans, null for the root), ``application_interaction_id``, ``operation_expected``."""
    root = next((s["id"] for s in spans if s["operation_type"] == "COMPLETION"), None)
    for span in spans:
        metric = (span.get("operation_input") or {}).get("metric")
        span["node_id"] = f"evaluation:{metric}" if span["operation_type"] == "EVALUATION" else "completion"
        span["trace_id"] = interaction_id
        span["parent_id"] = root if span["id"] != root else None
        span["application_interaction_id"] = interaction_id
        span.setdefault("operation_expected", {})
        for key in _SPAN_NULLS:
            span.setdefault(key, None)
    return spans


def interaction(interaction_id: str, *, query: str, prompt: str, generation: str | None, error: str | None,
                started: str, duration_ms: int, usage: dict[str, Any], spans: list[dict[str, Any]]) -> dict[str, Any]:
    """The unit as the document's ``interaction``: input, output, timing, status and its spans."""
    return {
        "id": interaction_id, "input": {"query": query, "prompt": prompt},
        "output": {"generation_output": generation} if error is None else {"error": error},
        "aggregated": False, "application_spec_id": None, "application_variant_id": None,
        "start_timestamp": started, "duration_ms": duration_ms, "operation_status": "SUCCESS" if error is None else "ERROR",
        "created_at": started, "operation_metadata": {"usage": usage} if usage else {}, "chat_thread_id": None,
        "interaction_source": "EVALUATION", "trace_spans": span_links(spans, interaction_id),
    }


def test_case_output(*, dataset_id: str, test_case_id: str, created_at: str, output: dict[str, Any],
                     interaction_doc: dict[str, Any] | None, test_case_version: dict[str, Any] | None,
                     metric_scores: list[dict[str, Any]], extra: dict[str, Any]) -> dict[str, Any]:
    """The document's fields in its order, then ours (``extra``) and ``custom_metric_types``."""
    for score in metric_scores:
        meta = score.setdefault("llm_metadata", {})
        meta.setdefault("logging", None)
    return {
        "application_variant_id": None, "evaluation_dataset_id": dataset_id, "test_case_id": test_case_id,
        "output": output, "id": new_id(), "created_at": created_at, "account_id": None,
        "interaction": interaction_doc, "test_case_version": test_case_version, "metric_scores": metric_scores,
        "schema_type": "GENERATION",
        "application_interaction_id": interaction_doc["id"] if interaction_doc else None,
        "application_test_case_output_group_id": None,
        "metrics": {s["metric_type"]: s["score"] for s in metric_scores},
        **extra,
        "custom_metric_types": sorted({s["metric_type"] for s in metric_scores} - DOCUMENT_METRIC_TYPES),
    }
