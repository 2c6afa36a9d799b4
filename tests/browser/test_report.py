"""The HTML report opened from disk in headless Chromium: it renders, opens on the failures, a run opens on
its transcript, the filter, pages and search work, the console stays clean, and planted scripts stay text.

The job behind it is real (the scripted OpenAI server on 127.0.0.1): 20 runs pass, 20 are wrong (the
model's reply and arguments carry a ``</script><script>``), 20 errored (HTTP 500, in a case named with one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import permutate_nb as pn

from ..helpers import PLANTED, mixed_request, wait_for

pytestmark = pytest.mark.browser





def _shown_rows(browser: Any) -> list[Any]:
    from selenium.webdriver.common.by import By

    return [r for r in browser.find_elements(By.CSS_SELECTOR, ".pn-list .pn-row") if r.is_displayed()]


def _click_label(browser: Any, starts: str) -> None:
    from selenium.webdriver.common.by import By

    labels = [e for e in browser.find_elements(By.CSS_SELECTOR, ".pn-runs label") if e.text.startswith(starts)]
    assert labels, f"no label {starts!r}"
    labels[0].click()


def test_the_report_from_disk(scripted: Any, tmp_path: Path, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    result = pn.run(mixed_request(scripted, repeats=20), cache=False)
    report = result.write(tmp_path / "report.html")
    browser.get(report.as_uri())
    wait_for("the report's runs", lambda: browser.find_elements(By.CSS_SELECTOR, ".pn-runs"))
    assert browser.title == f"{result.job_name}: permutate report"

    # planted scripts are text: nothing ran, one script on the page (the search), the names read as written
    assert browser.execute_script("return window.pwned === undefined")
    assert len(browser.find_elements(By.TAG_NAME, "script")) == 1
    assert PLANTED in browser.find_element(By.TAG_NAME, "body").text

    # it opens on the failures, grouped by reason with counts, before the summary tables
    failures = browser.find_element(By.CSS_SELECTOR, ".pn-failures")
    assert failures.text.startswith("Needs attention: 40 of 60 runs, by reason")
    groups = [g.text.splitlines()[0] for g in failures.find_elements(By.CSS_SELECTOR, ".pn-group > summary")]
    assert groups == ["parameter mismatch: q: 20 runs", "parameter mismatch: size: 20 runs", "errored: 20 runs"]
    assert browser.execute_script(
        "return document.querySelector('.pn-failures').compareDocumentPosition(document.querySelector('#T_permutate-permutations'))"
        " & Node.DOCUMENT_POSITION_FOLLOWING")

    # a run opens on its transcript, the mismatch highlighted
    first = failures.find_element(By.CSS_SELECTOR, ".pn-group[open] .pn-row")
    first.find_element(By.TAG_NAME, "summary").click()
    transcript = wait_for("the transcript", lambda: [t for t in first.find_elements(By.CSS_SELECTOR, ".pn-t") if t.is_displayed()])[0]
    assert "PROMPT SENT" in transcript.text and "EXPECTED AGAINST ACTUAL" in transcript.text
    bad = [r.text for r in transcript.find_elements(By.CSS_SELECTOR, "tr.pn-bad")]
    assert any(r.startswith("parameter size 5 6") for r in bad), bad
    assert browser.execute_script("return getComputedStyle(arguments[0]).backgroundColor",
                                  transcript.find_element(By.CSS_SELECTOR, "tr.pn-bad td")) == "rgb(249, 214, 213)"

    # the filter and the pages: 60 runs, 50 a page, wrong and errored first
    assert len(_shown_rows(browser)) == 50
    _click_label(browser, "wrong (20)")
    shown = _shown_rows(browser)
    assert len(shown) == 20 and all("pn-wrong" in r.get_attribute("class") for r in shown)
    _click_label(browser, "errored (20)")
    assert len(_shown_rows(browser)) == 20
    _click_label(browser, "passed (20)")
    assert len(_shown_rows(browser)) == 10  # the passed runs on page 1
    _click_label(browser, "2")
    assert len(_shown_rows(browser)) == 10 and all("pn-passed" in r.get_attribute("class") for r in _shown_rows(browser))
    _click_label(browser, "all (60)")
    assert len(_shown_rows(browser)) == 10  # page 2 of all

    # search reaches every page
    box = browser.find_element(By.ID, "pn-search")
    box.send_keys("good")
    wait_for("20 matching runs", lambda: browser.find_element(By.ID, "pn-search-count").text == "20 matching runs")
    assert len(_shown_rows(browser)) == 20
    box.clear()
    box.send_keys(" ")  # an input event with an empty query: everything back
    wait_for("the search cleared", lambda: browser.find_element(By.ID, "pn-search-count").text == "")

    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
