"""Eval datasets: free-text and RAG answers, judged metrics, trace spans, on the shared engine."""

from .dataset import Dataset, EvalCase, load_dataset
from .metrics import METRICS, Metric
from .results import EvalResult
from .runner import EvalJob, evaluate, evaluate_async, plan_eval

__all__ = ["Dataset", "EvalCase", "load_dataset", "METRICS", "Metric", "EvalResult", "EvalJob", "evaluate",
           "evaluate_async", "plan_eval"]
