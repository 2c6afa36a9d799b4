"""An eval's plan: the dataset, models, judge, metrics and template, checked before any model is called."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ....errors import RequestError
from ...request.batch_input import load_models, model_config
from ...request.models import LLMConfig
from ..factory import check_llm
from .dataset import Dataset, load_dataset
from .metrics import Metric, resolve_metrics

__all__ = ["EvalPlan", "plan_eval", "DEFAULT_TEMPLATE"]

DEFAULT_TEMPLATE = (
    "Context information is below.\n---------------------\n{context_str}\n---------------------\n"
    "Given the context information and not prior knowledge, answer the query.\nQuery: {query_str}\nAnswer:"
)


@dataclass
class EvalPlan:
    """Everything an eval runs from, checked by ``plan_eval`` before any model is called."""

    dataset: Dataset
    models: list[str]
    configs: dict[str, LLMConfig]
    judge_model: str | None
    judge_config: LLMConfig | None
    metrics: list[Metric]
    template: str
    model_settings: dict[str, dict[str, Any]]
    dataset_id: str | None = None  # the server's id of the uploaded dataset; else outputs carry its version

    def request(self) -> dict[str, Any]:
        """What the job store keeps to plan the eval again on resume: the dataset itself, models, judge,
        metrics, template and model settings."""
        return {"dataset": self.dataset.to_dict(), "models": self.models, "judge_model": self.judge_model,
                "metrics": [m.name for m in self.metrics], "template": self.template, "model_settings": self.model_settings,
                "dataset_id": self.dataset_id}

    @property
    def units(self) -> list[tuple[int, int]]:
        """(case, model) pairs in order: case by case, each model in turn."""
        return [(c, m) for c in range(len(self.dataset.cases)) for m in range(len(self.models))]


def plan_eval(dataset: Any, *, models: list[str] | str, judge_model: str | None = None,
              metrics: list[str] | str | None = None, template: str | None = None,
              model_settings: Mapping[str, Any] | str | None = None, name: str | None = None,
              dataset_id: str | None = None) -> EvalPlan:
    """Check everything an eval needs before any model is called."""
    data = load_dataset(dataset, name=name)
    names = [models] if isinstance(models, str) else list(models)
    if not names:
        raise RequestError("choose at least one model (--model NAME)")
    settings = load_models(model_settings)
    template = template or DEFAULT_TEMPLATE
    if "{query_str}" not in template:
        raise RequestError("template: it must contain {query_str} (and usually {context_str})")
    try:
        template.format(context_str="", query_str="")
    except (KeyError, IndexError, ValueError) as exc:
        raise RequestError(f"template: only {{context_str}} and {{query_str}} can be filled ({exc})") from None
    chosen = resolve_metrics(metrics)
    configs = {n: model_config(n, settings) for n in names}
    judge_name = judge_model or (names[0] if any(m.judged for m in chosen) else None)
    judge_config = model_config(judge_name, settings) if judge_name else None
    for label, llm in [*configs.items(), *([(f"judge {judge_name}", judge_config)] if judge_config else [])]:
        check_llm(llm, f"model {label}")
    return EvalPlan(data, names, configs, judge_name, judge_config, chosen, template, settings, dataset_id)


