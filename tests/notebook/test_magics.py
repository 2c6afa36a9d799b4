"""%%permutate through a real IPython shell, against the scripted OpenAI-compatible server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from openpyxl import load_workbook

import permutate_nb as pn
from permutate_nb.notebook.magics import fill_placeholders

from ..helpers import klarna_request

GOOD = {"tool_call": {"name": "productsUsingGET", "arguments": {"q": "T shirt", "size": 5}}}


def _cell(base_url: str, **config: Any) -> str:
    data = klarna_request(base_url=base_url, **config)
    data["permutations"][0]["llm"]["model_name"] = "{{ model }}"
    return yaml.safe_dump(data, sort_keys=False)


def test_placeholders_fill_double_braces_only() -> None:
    body = "name: {{ job }}\nurl: /books/{isbn}\nnested: {{ cfg.size }}\n"
    assert fill_placeholders(body, {"job": "x", "cfg": {"size": 3}}) == "name: x\nurl: /books/{isbn}\nnested: 3\n"
    with pytest.raises(pn.RequestError, match=r"cell line 2: \{\{ missing \}\}: 'missing' is not defined"):
        fill_placeholders("a: 1\nb: {{ missing }}\n", {})


def test_run_stores_result_and_returns_it(shell: Any, scripted: Any, tmp_path: Path) -> None:
    scripted.set_script({"rules": [{"responses": [GOOD]}]})
    shell.user_ns["model"] = "gpt-4o-mini"
    export = tmp_path / "out.xlsx"
    res = shell.run_cell(f"%%permutate --out result --concurrency 2 --no-cache --export {export}\n" + _cell(scripted.base_url))
    assert res.success, res.error_in_exec
    result = shell.user_ns["result"]
    assert isinstance(result, pn.JobResult) and res.result is result and shell.user_ns["_"] is result
    assert result.summary["overall_accuracy"] == 100.0
    assert scripted.requests[0]["json"]["model"] == "gpt-4o-mini"
    assert load_workbook(export).sheetnames == ["Summary", "Permutations", "Details", "Request"]
    jobs = shell.run_line_magic("permutate", "jobs")
    assert jobs.set_index("id").loc[result.job_id, "status"] == "SUCCESS"


def test_dry_run_shows_the_matrix_without_calls(shell: Any, scripted: Any) -> None:
    shell.user_ns["model"] = "m"
    body = _cell(scripted.base_url, repeats=2).replace("config:\n", "config:\n  auto_translate_to_languages: [English, German]\n", 1)
    frame = shell.run_cell("%%permutate --dry-run\n" + body).result
    assert len(frame) == 1 * 2 * 2 * 2 and scripted.requests == []
    assert list(frame.columns) == ["permutation", "llm", "selector", "plugin_group", "test_case", "type", "language", "repeat", "prompt"]
    assert frame.iloc[0]["llm"] == "OpenAIChat[m]"
    assert frame[frame.language == "German"]["prompt"].str.startswith("(translated to German at run time)").all()


def test_errors_are_short_and_real_errors(shell: Any) -> None:
    res = shell.run_cell("%%permutate\nname: x\nplugin_groups: []\npermutations: []\ntest_cases: []\nbogus: 1\n")
    assert isinstance(res.error_in_exec, pn.RequestError)
    lines = res.error_in_exec._render_traceback_()
    assert lines[0].startswith("RequestError: ") and len(lines) <= 6
    assert "bogus: unknown field" in "\n".join(lines)
    assert lines[-1] == "(run the cell with --traceback for the full traceback)"


def test_traceback_switch_keeps_the_stack(shell: Any) -> None:
    res = shell.run_cell("%%permutate --traceback\nname: x\n")
    assert isinstance(res.error_in_exec, pn.RequestError)
    assert not hasattr(res.error_in_exec, "_render_traceback_")


def test_result_view_is_deterministic(shell: Any, scripted: Any) -> None:
    scripted.set_script({"rules": [{"match": "Show me", "responses": [GOOD]}, {"responses": [{"text": "no"}]}]})
    shell.user_ns["model"] = "gpt-4o-mini"
    result = shell.run_cell("%%permutate --no-cache\n" + _cell(scripted.base_url)).result
    bundle = result._repr_mimebundle_()
    assert bundle == result._repr_mimebundle_()
    html = bundle["text/html"]
    assert "pn-runs" in html and "T_permutate-heatmap" in html and "Overall accuracy by permutation" in html
    assert '<details class="pn-row pn-passed">' in html and '<details class="pn-row pn-wrong">' in html
    assert bundle["text/plain"].startswith(f"{result.job_name} [SUCCESS]: 2 runs, overall 50.0%, wrong 1, errored 0")


def test_batch_cell(shell: Any, scripted: Any, tmp_path: Path) -> None:
    scripted.set_script({"rules": [{"match": "France", "responses": [{"text": "Paris"}]}], "default": {"text": "many"}})
    shell.user_ns["my_models"] = {"fast": {"model_name": "gpt-4o-mini", "base_url": scripted.base_url}}
    export = tmp_path / "b.xlsx"
    res = shell.run_cell(f"%%permutate batch --models my_models --out frame --export {export}\n"
                         "prompt,model\nCapital of France?,fast\nPeople in ${output.1}?,fast\n")
    assert res.success, res.error_in_exec
    frame = shell.user_ns["frame"].frame
    assert list(frame["result"]) == ["Paris", "many"] and frame.loc[1, "prompt"] == "People in Paris?"
    assert export.exists()
    stored = shell.run_line_magic("permutate", "jobs")
    assert frame.attrs["job_id"] in list(stored["id"])
    assert stored.set_index("id").loc[frame.attrs["job_id"], "kind"] == "batch"


def test_batch_cell_errors_name_the_row(shell: Any) -> None:
    res = shell.run_cell("%%permutate batch\nprompt,model\nuse ${output.2},local\n")
    assert isinstance(res.error_in_exec, pn.RequestError)
    assert "row 1: ${output.2} refers to a row that does not exist" in res.error_in_exec._render_traceback_()[0]


def test_dry_run_needs_no_api_key(shell: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    shell.user_ns["model"] = "gpt-4o-mini"
    frame = shell.run_cell("%%permutate --dry-run\n" + _cell("")).result
    assert len(frame) == 2
    res = shell.run_cell("%%permutate\n" + _cell(""))
    assert isinstance(res.error_in_exec, pn.ConfigurationError)


def test_error_lines_count_from_the_magic_line(shell: Any) -> None:
    cell = "%%permutate\nname: x\nplugin_groups: []\npermutations: []\ntest_cases: []\nbogus: 1\n"
    text = "\n".join(shell.run_cell(cell).error_in_exec._render_traceback_())
    assert "line 3: plugin_groups" in text and "line 6: bogus: unknown field" in text  # as the editor numbers them
    res = shell.run_cell("%%permutate\nname: {{ nowhere }}\n")
    assert "cell line 2: {{ nowhere }}" in res.error_in_exec._render_traceback_()[0]


def test_summary_table_labels_and_scrolls(shell: Any, scripted: Any) -> None:
    from permutate_nb.notebook.view import summary_table

    scripted.set_script({"rules": [{"responses": [GOOD]}]})
    shell.user_ns["model"] = "gpt-4o-mini"
    result = shell.run_cell("%%permutate --no-cache\n" + _cell(scripted.base_url)).result
    table = summary_table(result)
    assert list(table.columns[:5]) == ["model", "runs", "wrong", "errored", "overall"]
    assert table.loc["p1", "model"] == "OpenAIChat[gpt-4o-mini]"
    assert "accuracy_step_a" in result.summary_df.columns  # the DataFrame keeps the raw names
    html = result._repr_mimebundle_()["text/html"]
    assert "step b: operation" in html and ">accuracy_step_b<" not in html
    assert html.count('<div style="overflow-x:auto;max-width:100%">') == 2  # summary, heatmap (the runs' lines wrap)


def test_bars_name_the_model_that_runs() -> None:
    from permutate_nb.notebook.progress import permutation_bars

    from ..helpers import klarna_request

    totals, title, labels = permutation_bars(pn.validate(klarna_request(), provider="local"))
    assert totals == {"p1": 2} and title == "permutate progress: klarna_test (2 runs)"
    assert labels == {"p1": "p1 · gpt-4o-mini → local SmolLM2-135M-Instruct"}  # credited: what ran, in place of what


def test_accuracy_legend_covers_no_bar(shell: Any, scripted: Any) -> None:
    from permutate_nb.notebook.plots import plot_accuracy

    scripted.set_script({"rules": [{"responses": [GOOD]}]})  # every bar at 100%: the old legend sat on them
    shell.user_ns["model"] = "gpt-4o-mini"
    result = shell.run_cell("%%permutate --no-cache\n" + _cell(scripted.base_url)).result
    fig = plot_accuracy(result)
    fig.canvas.draw()
    (ax,) = fig.axes
    legend = ax.get_legend().get_window_extent()
    bars = [patch.get_window_extent() for patch in ax.patches]
    assert bars and not any(legend.overlaps(bar) for bar in bars)
