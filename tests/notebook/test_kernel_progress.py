"""Live progress for every blocking call in a real kernel (``pn.run``, ``pn.resume``, ``pn.batch``,
``pn.evaluate``), ``%permutate resume ID``, ``%permutate config`` / ``pn.defaults``, and the
impossible-expectation warnings at the start of ``pn.run`` and in ``%%permutate --dry-run``.

The kernel is ``test_kernel``'s (one per module); what the frontend receives is read from its messages.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
import yaml

from ..helpers import klarna_request
from . import test_kernel
from .test_kernel import GOOD, Kernel, _of, _widget_texts

kernel = test_kernel.kernel  # test_kernel's fixture: one kernel for this module too


def _ended(out: list[dict[str, Any]]) -> list[str]:
    """The static lines that replaced the live bars (the widget shown first, then updated away)."""
    assert [c for c in _of(out, "display_data") if "application/vnd.jupyter.widget-view+json" in c["data"]]
    (end,) = _of(out, "update_display_data")
    assert "application/vnd.jupyter.widget-view+json" not in end["data"]
    return end["data"]["text/plain"].splitlines()


def _errors(out: list[dict[str, Any]]) -> list[Any]:
    return [(c["ename"], c["evalue"]) for c in _of(out, "error")]


def _request(base_url: str, **config: Any) -> str:
    return repr(klarna_request(base_url=base_url, **config))


def test_pn_run_and_pn_resume_show_the_same_live_progress(kernel: Kernel, scripted: Any) -> None:
    scripted.set_script({"rules": [{"match": "Show me", "responses": [GOOD]}, {"responses": [{"text": "no"}]}]})
    out = kernel.execute(f"import permutate_nb as pn\nr = pn.run({_request(scripted.base_url, cache=False)})")
    assert not _errors(out), _errors(out)
    lines = _ended(out)
    assert lines[0] == "permutate progress: klarna_test (2 runs)"
    assert lines[1].startswith("p1 · OpenAIChat[gpt-4o-mini]: 2/2 · 1 passed · 1 wrong · 0 errored")

    job_id = kernel.value("r.job_id")
    with sqlite3.connect(kernel.home / "jobs.sqlite") as db:  # type: ignore[attr-defined]
        db.execute("DELETE FROM runs WHERE job_id=? AND idx=1", (job_id,))  # one run to do again
    scripted.reset()
    out = kernel.execute("r2 = pn.resume(r.job_id)")
    assert not _errors(out), _errors(out)
    assert _ended(out)[1].startswith("p1 · OpenAIChat[gpt-4o-mini]: 2/2 · 1 passed · 1 wrong")  # restored + run
    assert len(scripted.requests) == 1

    with sqlite3.connect(kernel.home / "jobs.sqlite") as db:  # type: ignore[attr-defined]
        db.execute("DELETE FROM runs WHERE job_id=? AND idx=0", (job_id,))
    scripted.reset()
    out = kernel.execute(f"%permutate resume {job_id} --out r3")
    assert not _errors(out), _errors(out)
    assert _ended(out)[1].startswith("p1 · OpenAIChat[gpt-4o-mini]: 2/2 · 1 passed · 1 wrong")
    assert len(scripted.requests) == 1 and kernel.value("len(r3.details)") == 2
    out = kernel.execute("%permutate resume")
    assert _errors(out) == [("RequestError", "%permutate resume needs a job id; %permutate jobs --all lists them")]


def test_pn_batch_and_pn_evaluate_show_progress_and_the_eval_names_its_steps(kernel: Kernel, scripted: Any) -> None:
    scripted.set_script({"rules": [{"match": "Grade an answer", "responses": [{"text": '{"score": 1, "reasoning": "ok"}'}]},
                                   {"responses": [{"text": "Paris"}]}]})
    models = {"gen": {"model_name": "gpt-4o-mini", "base_url": scripted.base_url},
              "judge": {"model_name": "gpt-4o", "base_url": scripted.base_url}}
    out = kernel.execute(f"b = pn.batch('prompt,model\\nhi,gen\\nho,gen\\n', models={models!r}, cache=False)")
    assert not _errors(out), _errors(out)
    assert _ended(out)[1].startswith("gen: 2/2 · 2 done · 0 errored")
    cases = [{"id": "q1", "input": "Capital of France?", "expected_output": "Paris"},
             {"id": "q2", "input": "Capital of Italy?", "expected_output": "Rome"}]
    out = kernel.execute(f"e = pn.evaluate({cases!r}, models=['gen'], judge_model='judge', model_settings={models!r}, "
                         "metrics=['answer-correctness', 'exact-match'], cache=False)")
    assert not _errors(out), _errors(out)
    assert _ended(out)[1].startswith("gen: 2/2 · 2 done · 0 errored")
    texts = _widget_texts(out)
    assert any("answering 1/2" in t for t in texts) and any("judging 2/2" in t for t in texts)


def test_config_sets_this_notebooks_defaults(kernel: Kernel, scripted: Any) -> None:
    scripted.set_script({"rules": [{"responses": [GOOD]}]})
    out = kernel.execute("%permutate config --concurrency 1 --no-cache")
    (shown,) = _of(out, "execute_result")
    assert shown["data"]["text/plain"] == "{'concurrency': 1, 'cache': False}"
    try:
        assert kernel.value("pn.defaults()") == {"concurrency": 1, "cache": False}
        kernel.execute(f"r = pn.run({_request(scripted.base_url)})")
        job_id = kernel.value("r.job_id")
        assert kernel.value(f"pn.status({job_id!r})['status']") == "SUCCESS"
        with sqlite3.connect(kernel.home / "jobs.sqlite") as db:  # type: ignore[attr-defined]
            (options,) = db.execute("SELECT options FROM jobs WHERE id=?", (job_id,)).fetchone()
        assert options == '{"concurrency": 1, "cache": false}'  # the defaults were the run's options
        out = kernel.execute("pn.defaults(concurrency=0)")
        assert _errors(out) == [("RequestError", "defaults: concurrency must be a whole number of at least 1, not 0")]
    finally:
        kernel.execute("%permutate config --reset")
    assert kernel.value("pn.defaults()") == {}


@pytest.mark.parametrize("how", ["dry-run", "pn.run"])
def test_impossible_expectations_are_warned_before_the_runs(kernel: Kernel, scripted: Any, how: str) -> None:
    data = klarna_request(base_url=scripted.base_url, cache=False)
    data["test_cases"][1]["expected_parameters"] = {"size": "five"}  # size is an integer: no run can match
    scripted.set_script({"rules": [{"responses": [GOOD]}]})
    code = ("%%permutate --dry-run\n" + yaml.safe_dump(data)) if how == "dry-run" else f"pn.run({data!r})"
    out = kernel.execute(code)
    warned = "".join(c["text"] for c in _of(out, "stream") if c["name"] == "stderr")
    assert "impossible expectation: test case 'shirts_params'" in warned, warned


def test_builder_shows_a_static_summary_beside_the_form_and_its_run_result_is_a_plain_output(
        kernel: Kernel, scripted: Any) -> None:
    scripted.set_script({"rules": [{"responses": [GOOD]}]})
    request = klarna_request(base_url=scripted.base_url, cache=False)
    request["permutations"][0]["name"] = "<b>p1</b>"
    out = kernel.execute(f"import permutate_nb as pn\nb = pn.RequestBuilder.from_request({request!r})")
    assert not _errors(out), _errors(out)
    out = kernel.execute("b")  # shown as a cell's last value: the form, and a slot for the result under it
    (form, slot) = _of(out, "display_data")
    assert "application/vnd.jupyter.widget-view+json" in form["data"]
    html = form["data"]["text/html"]
    assert "permutate-builder-summary" in html and "request builder: klarna_test 1.0.0" in html
    assert "&lt;b&gt;p1&lt;/b&gt;: OpenAIChat[gpt-4o-mini]" in html and "<b>p1</b>" not in html  # escaped
    assert "shirts_params: api_signature_selector: &#x27;Find 5 T shirts please&#x27; → get" in html
    assert form["data"]["text/plain"].startswith("request builder: klarna_test 1.0.0\n  plugins:")
    slot_id = slot["transient"]["display_id"]

    out = kernel.execute("b.run_button.click()")  # as the Run button does it
    updates = [u for u in _of(out, "update_display_data") if u["transient"]["display_id"] == slot_id]
    assert len(updates) == 1 and "pn-runs" in updates[0]["data"]["text/html"]
    assert "application/vnd.jupyter.widget-view+json" not in updates[0]["data"]  # a plain output: saved as it is
    assert kernel.value("len(b.output.outputs)") == 0


def test_to_cell_loads_the_extension_and_carries_the_provider(kernel: Kernel) -> None:
    kernel.execute(f"import permutate_nb as pn\nb = pn.RequestBuilder.from_request({klarna_request()!r})\nb.run_provider.value = 'local'\n"
                   "get_ipython().magics_manager.magics['cell'].pop('permutate')")  # as in a kernel without %load_ext
    out = kernel.execute("b.to_cell()")
    (payload,) = out[-1]["content"]["payload"]
    assert payload["text"].startswith("%%permutate --out result --provider local\nversion: 1.0.0\n")
    assert kernel.value("'permutate' in get_ipython().magics_manager.magics['cell']")


def test_copy_as_yaml_tries_the_clipboard_and_otherwise_says_it_could_not(kernel: Kernel) -> None:
    kernel.execute(f"import permutate_nb as pn\nb = pn.RequestBuilder.from_request({klarna_request()!r})\n"
                   "b.yaml_button.click()")
    outputs = kernel.value("[o.get('data', {}) for o in b.output.outputs if o['output_type'] == 'display_data']")
    script = next(o for o in outputs if "application/javascript" in o)
    assert "navigator.clipboard.writeText" in script["application/javascript"]
    assert "name: klarna_test" in script["application/javascript"]
    assert script["text/plain"].startswith("could not copy to the clipboard here (this frontend runs no script)")
