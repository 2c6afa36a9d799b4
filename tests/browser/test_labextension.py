"""The package's JupyterLab extension (``labextension/``, installed with the package) in a real browser.

A request builder saved in a trusted notebook reopens, on a new kernel, as its static summary where
the widget manager would say "Error displaying widget: model not found", with the Run result under
it; run again, the cell shows the live form. A ``%%permutate`` cell's editor is YAML, a plain cell's
Python. The notebook is produced for real: executed by nbclient (the builder displayed, its Run
button clicked on the embedded model), saved without widget state as JupyterLab saves it, and trusted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..helpers import DEADLINE, wait_for
from .test_jupyterlab import _kernel_idle, _lab, _text

pytestmark = pytest.mark.browser

NAME = "builder_saved.ipynb"
BUILD = """import permutate_nb as pn
from pathlib import Path
example = Path(pn.__file__).parent / "examples" / "klarna_plugin_test.yaml"
builder = pn.RequestBuilder.from_request(example)
for row in list(builder.test_cases[1:]):
    row.remove.click()
builder.permutations[0].remove.click()  # the one on the embedded model stays
builder.run_provider.value = "local"
builder"""
RUN = "builder.run_button.click()  # the form's Run: the result goes to a plain output under the form"
MAGIC = """%%permutate --dry-run
name: highlighted
test_cases: []"""
PLAIN = "answer = {'name': 42}"


def _saved_builder_notebook(work: Path) -> dict[str, Any]:
    """The builder displayed and run by nbclient, then saved as JupyterLab saves it (no widget state)."""
    nbclient = pytest.importorskip("nbclient")
    import nbformat

    cells = [nbformat.v4.new_code_cell(BUILD), nbformat.v4.new_code_cell(RUN)]
    notebook = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}})
    nbclient.NotebookClient(notebook, timeout=int(DEADLINE), kernel_name="python3", store_widget_state=False,
                            resources={"metadata": {"path": str(work)}}).execute()
    kinds = [list(o.get("data", {})) for o in notebook.cells[0].outputs]
    assert ["text/plain", "application/vnd.jupyter.widget-view+json", "text/html"] in kinds, kinds
    assert " 1 runs, overall " in notebook.cells[0].outputs[-1]["data"]["text/plain"]  # the Run result, under the form
    notebook.cells += [nbformat.v4.new_code_cell(MAGIC), nbformat.v4.new_code_cell(PLAIN)]  # never run
    return json.loads(nbformat.writes(notebook))


@pytest.fixture
def builder_lab(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """JupyterLab serving the saved builder notebook, trusted (as a notebook the user saved is)."""
    scratch = tmp_path / "nbclient"
    scratch.mkdir()
    with _lab(tmp_path, keep_outputs=True, notebook=_saved_builder_notebook(scratch), name=NAME, trusted=True) as served:
        yield served


def _require_extension(driver: Any) -> None:
    """The page lists the extension (else the package was installed without its data files)."""
    names = driver.execute_script(
        "return JSON.parse(document.getElementById('jupyter-config-data').textContent)"
        ".federated_extensions.map(e => e.name)")
    assert "permutate-nb" in names, (f"JupyterLab does not list the permutate-nb extension ({names}): "
                                     "pip install -e . installs it (setup.py, share/jupyter/labextensions)")


def _builder_cell(driver: Any) -> Any:
    from selenium.webdriver.common.by import By

    return wait_for("the builder's cell", lambda: driver.find_elements(By.CSS_SELECTOR, ".jp-CodeCell"), DEADLINE)[0]


def _shown(cell: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return [e for e in cell.find_elements(By.CSS_SELECTOR, selector) if e.is_displayed()]


def _languages(driver: Any) -> list[str | None]:
    """Each code cell's editor language, as CodeMirror marks its content (``data-language``)."""
    return driver.execute_script(
        "return [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-editor')]"
        ".map(e => e.querySelector('.cm-content')?.getAttribute('data-language') ?? null)")


def test_a_saved_builder_reopens_as_its_summary(builder_lab: dict[str, Any], browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get(builder_lab["url"])
    wait_for("the notebook's kernel", lambda: _kernel_idle(browser), DEADLINE)
    _require_extension(browser)
    cell = _builder_cell(browser)
    # the widget manager gives up on the model once restored from the new kernel (ipywidgets marks its
    # renderer `jupyter-widgets` then): what shows in its place is the summary
    summary = wait_for("the builder's summary where the widget's model is gone", lambda: _shown(
        cell, ".jp-OutputArea-output.jupyter-widgets .permutate-builder-summary"), DEADLINE)[0]
    assert summary.text.startswith("request builder: klarna_plugin_test 1.1.0")
    assert "test1" in summary.text and "the local model" in summary.text
    assert not summary.find_elements(By.TAG_NAME, "script")
    page = _text(browser)
    assert "Error displaying widget" not in page and "model not found" not in page
    assert _shown(cell, ".jp-OutputArea-output .pn-runs"), "the Run result under the form did not survive the reopening"

    # run again (Ctrl+Enter in its editor): the live form, not the summary
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    cell.find_element(By.CSS_SELECTOR, ".jp-InputArea-editor .cm-content").click()
    ActionChains(browser).key_down(Keys.CONTROL).send_keys(Keys.ENTER).key_up(Keys.CONTROL).perform()
    wait_for("the live form", lambda: [b for b in _shown(cell, ".jp-OutputArea-output .widget-button")
                                       if b.text == "Validate"], DEADLINE)
    assert not _shown(cell, ".permutate-builder-summary")
    assert "Error displaying widget" not in _text(browser)


def _wait_languages(driver: Any, expected: list[str], what: str) -> None:
    seen: list[list[str | None]] = []
    try:
        wait_for(what, lambda: seen.append(_languages(driver)) or seen[-1] == expected, DEADLINE)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the editors' languages: {seen[-1]}") from None


def test_permutate_cells_are_highlighted_as_yaml(builder_lab: dict[str, Any], browser: Any) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(builder_lab["url"])
    wait_for("the notebook's kernel", lambda: _kernel_idle(browser), DEADLINE)  # its language_info resets the cells' language
    _require_extension(browser)
    _wait_languages(browser, ["python", "python", "yaml", "python"], "the %%permutate cell in YAML, the others in Python")

    editors = browser.find_elements(By.CSS_SELECTOR, ".jp-CodeCell .jp-InputArea-editor .cm-content")

    def type_at_start(editor: Any, *keys: str) -> None:
        editor.click()
        ActionChains(browser).key_down(Keys.CONTROL).send_keys(Keys.HOME).key_up(Keys.CONTROL).send_keys(*keys).perform()

    type_at_start(editors[2], Keys.DELETE)  # "%permutate ...": no longer the magic
    type_at_start(editors[3], "%%permutate", Keys.ENTER)  # the plain cell becomes one
    _wait_languages(browser, ["python", "python", "python", "yaml"], "the magic removed from one cell and typed in another")
