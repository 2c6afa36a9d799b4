"""The documentation site in a real browser: built with ``mkdocs build --strict`` into a temporary
folder, opened from disk (``file://``) in headless Chromium, a page checked and the search used.

Opening from disk is what someone does with a downloaded or CI-built site, and it is where search
breaks first (a web worker cannot load from ``file://``; the ``offline`` plugin works around it),
so the test types a query and waits for a result that links to the right page.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from ..helpers import wait_for

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT = 600  # seconds for mkdocs build: the reference pages import the package and its server




@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site as CI builds it (strict: a broken link or a missing reference fails here too)."""
    pytest.importorskip("material", reason="mkdocs-material is not installed (requirements-dev.txt has it)")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "index.html").is_file()
    return out


def test_a_generated_page_renders_from_disk(site: Path, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get((site / "index.html").as_uri())
    wait_for("the home page's title", lambda: browser.find_elements(By.CSS_SELECTOR, "article h1"))
    assert browser.find_element(By.CSS_SELECTOR, "article h1").text == "permutate_nb"

    # follow the navigation (relative links between files) to a page generated from the CLI's parser
    link = wait_for("the Command line link", lambda: [a for a in browser.find_elements(By.CSS_SELECTOR, "nav a")
                                                   if a.get_attribute("href").endswith("reference/cli.html")])
    browser.get(link[0].get_attribute("href"))
    wait_for("the command line page", lambda: browser.find_elements(By.CSS_SELECTOR, "article h1"))
    headings = [h.get_attribute("textContent").strip().rstrip("¶") for h in browser.find_elements(By.CSS_SELECTOR, "article h3")]
    assert "permutate run" in headings and "permutate serve" in headings
    flags = browser.execute_script("return document.querySelector('article').innerText")
    assert "--fail-under" in flags and "--resume" in flags
    assert browser.execute_script("return getComputedStyle(document.querySelector('.md-header')).display") != "none"


def test_search_finds_a_page_from_disk(site: Path, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get((site / "guides" / "batch.html").as_uri())
    # as a reader does: click the search field in the header (that opens search and starts its index)
    box = wait_for("the search field", lambda: [e for e in browser.find_elements(By.CSS_SELECTOR, "input.md-search__input")
                                             if e.is_displayed()])[0]
    box.click()
    box.send_keys("McNemar")

    def results() -> list[str]:
        return [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, ".md-search-result__item a")]

    hits = wait_for("search results for McNemar", results)
    assert any(urlsplit(h).path.endswith("/concepts/numbers.html") for h in hits), hits
    browser.get(next(h for h in hits if "concepts/numbers.html" in h))
    wait_for("the page the result links to",
          lambda: "Numbers and intervals" in (browser.execute_script("return document.title") or ""))
