"""Matplotlib figures of a JobResult: accuracy by permutation, and test case x permutation.

The rich view draws the same two pictures in HTML; these are for reports and further
styling. matplotlib (a base dependency) is imported on first use: it costs half a second.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.frames import is_nan
from .view import heatmap_frame

if TYPE_CHECKING:
    from ..core.jobs.permutate_result import JobResult

__all__ = ["plot_accuracy", "plot_heatmap", "plot_eval"]


def _pyplot() -> Any:
    import matplotlib.pyplot as plt

    return plt


def plot_accuracy(result: JobResult) -> Any:
    """Bars: overall accuracy and steps a/b/c per permutation, in percent, with 95% Wilson intervals."""
    plt = _pyplot()
    summary = result.summary_df.drop(index="(all)")
    keys = ["overall_accuracy", "accuracy_step_a", "accuracy_step_b", "accuracy_step_c"]
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(summary)), 4))
    width, x = 0.8 / len(keys), np.arange(len(summary))
    for i, key in enumerate(keys):
        values = summary[key].astype(float).fillna(0).to_numpy()
        intervals = [ci if isinstance(ci, list) else [v, v] for v, ci in zip(values, summary[f"{key}_ci"])]
        errors = np.array([[v - low for v, (low, _) in zip(values, intervals)], [high - v for v, (_, high) in zip(values, intervals)]])
        ax.bar(x + (i - 1.5) * width, values, width, yerr=errors, capsize=3, error_kw={"elinewidth": 1})
    labels = result.labels()  # with --provider: the model that answered, not only the permutation's name
    ax.set_xticks(x, [labels.get(name, name) for name in summary.index])
    ax.set_ylim(0, 105)
    ax.set_ylabel("% (bars: 95% interval)")
    ax.set_title(f"{result.job_name}: accuracy by permutation")
    ax.legend(["overall", "step a: plugin", "step b: operation", "step c: parameters"], fontsize=8,
              loc="upper left", bbox_to_anchor=(1.01, 1))  # beside the axes: it never covers a bar
    fig.tight_layout()
    plt.close(fig)
    return fig


def plot_heatmap(result: JobResult) -> Any:
    """Pass rate over the repeats per test case (rows) and permutation (columns)."""
    plt = _pyplot()
    frame = heatmap_frame(result)
    fig, ax = plt.subplots(figsize=(max(5, 1.4 * frame.shape[1] + 3), max(3, 0.5 * frame.shape[0] + 1.5)))
    image = ax.imshow(frame.to_numpy(dtype=float), cmap="RdYlGn", vmin=0, vmax=100, aspect="auto")
    ax.set_xticks(range(frame.shape[1]), frame.columns, rotation=30, ha="right")
    ax.set_yticks(range(frame.shape[0]), frame.index)
    values = frame.to_numpy(dtype=float)
    for (i, j), value in np.ndenumerate(values):
        ax.text(j, i, "–" if is_nan(value) else f"{value:.0f}%", ha="center", va="center", fontsize=8)
    fig.colorbar(image, ax=ax, label="pass rate %")
    repeats = max((runs for runs, _ in result.cells().values()), default=1)  # the most repeats a cell has
    ax.set_title(f"test case x permutation: pass rate over {repeats} repeat{'s' if repeats > 1 else ''}")
    fig.tight_layout()
    plt.close(fig)
    return fig


def plot_eval(result: Any) -> Any:
    """Bars: mean score per metric for each model, with 95% confidence intervals."""
    plt = _pyplot()
    df = result.summary_df
    metrics = list(dict.fromkeys(df["metric_type"]))
    models = list(dict.fromkeys(df["model"]))
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(metrics) * max(len(models), 1)), 4))
    width = 0.8 / max(len(models), 1)
    for i, model in enumerate(models):
        rows = df[df["model"] == model].set_index("metric_type").reindex(metrics)
        means = rows["mean"].astype(float).fillna(0).to_numpy()
        low = (rows["mean"] - rows["ci95_low"]).astype(float).fillna(0).to_numpy()
        high = (rows["ci95_high"] - rows["mean"]).astype(float).fillna(0).to_numpy()
        ax.bar(np.arange(len(metrics)) + i * width, means, width, yerr=[low, high], capsize=3, label=model)
    ax.set_xticks(np.arange(len(metrics)) + width * (len(models) - 1) / 2, metrics, rotation=20, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("mean score")
    ax.legend(fontsize=8)
    ax.set_title(f"{result.dataset['name']}: scores by metric (95% CI)")
    fig.tight_layout()
    plt.close(fig)
    return fig
