"""matplotlib figures: accuracy bars carry their Wilson intervals; the heatmap shows pass rates over repeats."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import permutate_nb as pn
from permutate_nb.notebook.plots import plot_accuracy, plot_heatmap

from ..helpers import klarna_request

GOOD = {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}}


def test_accuracy_error_bars_and_repeat_heatmap(scripted: Any) -> None:
    # shirts: pass, fail, then pass; shirts_params: always right -> overall 5 of 6
    scripted.set_script({"rules": [{"match": "Show me", "responses": [GOOD, {"text": "no"}, GOOD]}, {"responses": [GOOD]}]})
    result = pn.run(klarna_request(base_url=scripted.base_url, repeats=3, cache=False, concurrency=1))
    ax = plot_accuracy(result).axes[0]
    overall = ax.containers[0]  # the first ErrorbarContainer: overall accuracy
    segments = overall.lines[2][0].get_segments()
    low, high = result.summary["overall_accuracy_ci"]
    assert [segments[0][0][1], segments[0][1][1]] == pytest.approx([low, high])
    heat = plot_heatmap(result).axes[0]
    assert "over 3 repeats" in heat.get_title()
    assert np.asarray(heat.images[0].get_array()).ravel().tolist() == pytest.approx([200 / 3, 100.0])
