"""``--provider local`` credits the model that answered: CLI table, XLSX, heatmap, plot, comparison, progress label.

One real ``permutate run --provider local`` (the embedded SmolLM2 model) in a subprocess, then its
stored result read back in this process and its XLSX with openpyxl.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from openpyxl import load_workbook

import permutate_nb as pn

from ..helpers import DEADLINE, cli_process, klarna_request

LOCAL = "local SmolLM2-135M-Instruct"


def test_local_replaces_are_credited_everywhere(tmp_path: Path, permutate_home: Path) -> None:
    pytest.importorskip("llama_cpp")
    data = klarna_request(base_url="http://127.0.0.1:9/v1", cache=False)
    data["test_cases"] = data["test_cases"][:1]
    first = data["permutations"][0]
    first["llm"]["max_tokens"] = 48
    data["permutations"].append({**first, "name": "p2", "llm": {**first["llm"], "model_name": "gpt-4o"}})
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(data))
    proc = cli_process("run", str(path), "--provider", "local", "-o", str(tmp_path / "r.xlsx"), home=permutate_home)
    out, err = proc.communicate(timeout=DEADLINE * 3)
    assert proc.returncode in (0, 3), err
    assert f"p1 (gpt-4o-mini → {LOCAL})" in out and f"p2 (gpt-4o → {LOCAL})" in out

    wb = load_workbook(tmp_path / "r.xlsx")
    perms = wb["Permutations"]
    header = [c.value for c in perms[1]]
    assert header[:2] == ["permutation_name", "model"]
    assert [row[1].value for row in perms.iter_rows(min_row=2)] == [f"gpt-4o-mini → {LOCAL}", f"gpt-4o → {LOCAL}"]
    comparison = {c.value: v.value for c, v in zip(wb["Comparison"][1], wb["Comparison"][2])}
    assert (comparison["a"], comparison["a_model"], comparison["b_model"]) == ("p1", f"gpt-4o-mini → {LOCAL}",
                                                                            f"gpt-4o → {LOCAL}")

    job_id = pn.jobs()["id"][0]
    result = pn.results(job_id)
    assert result.models() == {"p1": f"gpt-4o-mini → {LOCAL}", "p2": f"gpt-4o → {LOCAL}"}
    from permutate_nb.notebook.plots import plot_accuracy, plot_heatmap
    from permutate_nb.notebook.view import heatmap_frame, render_html, summary_table

    assert list(heatmap_frame(result).columns) == [f"p1 (gpt-4o-mini → {LOCAL})", f"p2 (gpt-4o → {LOCAL})"]
    assert summary_table(result).loc["p1", "model"] == f"gpt-4o-mini → {LOCAL}"
    ticks = [t.get_text() for t in plot_accuracy(result).axes[0].get_xticklabels()]
    assert ticks == [f"p1 (gpt-4o-mini → {LOCAL})", f"p2 (gpt-4o → {LOCAL})"]
    assert f"p2 (gpt-4o → {LOCAL})" in [t.get_text() for t in plot_heatmap(result).axes[0].get_xticklabels()]
    html = render_html(result)
    assert html.count(f"p2 (gpt-4o → {LOCAL})") >= 3  # bars, heatmap, comparison


def test_progress_label_and_plain_runs_stay_plain() -> None:
    from permutate_nb.notebook.progress import permutation_bars

    data = klarna_request(base_url="http://127.0.0.1:9/v1")
    plain = pn.validate(data)
    assert permutation_bars(plain)[2] == {"p1": "p1 · OpenAIChat[gpt-4o-mini]"}
    local = pn.validate(data, provider="local")
    assert permutation_bars(local)[2] == {"p1": f"p1 · gpt-4o-mini → {LOCAL}"}
    llm = local.request.permutations[0].llm
    assert (llm.replaces, llm.credit()) == ("gpt-4o-mini", f"gpt-4o-mini → {LOCAL}")
    assert pn.validate(local.request.to_dict(), provider="local").request.permutations[0].llm.replaces == "gpt-4o-mini"
