"""Shared fixtures: a scripted OpenAI-compatible server and an isolated PERMUTATE_HOME.

One server serves the whole session (starting a loop thread per test would be wasteful);
``scripted`` hands each test a freshly reset view of it.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from permutate_nb.testing.scripted_server import ScriptedOpenAIServer

from .helpers import TEST_TIMEOUT


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a parent package missing, or a module blocked in sys.modules
        return False


# Suites of an extra are left out when it is not installed (pytest -m selects, it does not stop imports).
collect_ignore = [] if _installed("fastapi") else ["server"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """pytest-timeout bounds every test at ``TEST_TIMEOUT`` (15 x DEADLINE) unless it sets its own."""
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(TEST_TIMEOUT))


@pytest.fixture(scope="session", autouse=True)
def _openai_api_key() -> None:
    """Clients that insist on a key find one; a real key set by the developer is left alone."""
    os.environ.setdefault("OPENAI_API_KEY", "test-key")


@pytest.fixture(scope="session")
def openai_server() -> Iterator[ScriptedOpenAIServer]:
    """One scripted server for the session; its empty script answers every request with text."""
    os.environ.setdefault("OPENAI_API_KEY", "test-key")
    with ScriptedOpenAIServer() as server:
        yield server


@pytest.fixture
def scripted(openai_server: ScriptedOpenAIServer) -> Iterator[ScriptedOpenAIServer]:
    """The session server with the default script, no delay, recording on, no requests, no hits, not holding."""
    openai_server.set_script(None)
    openai_server.delay = 0.0
    openai_server.record = True
    openai_server.reset()
    yield openai_server
    openai_server.release()
    openai_server.set_script(None)
    openai_server.delay = 0.0
    openai_server.record = True


@pytest.fixture(autouse=True)
def permutate_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point PERMUTATE_HOME at a per-test directory so no test writes into ~/.permutate."""
    home = tmp_path / "permutate_home"
    home.mkdir()
    monkeypatch.setenv("PERMUTATE_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def offline_snapshots(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Map the docs' plugin URLs to the bundled snapshots, so no test tries the network."""
    import permutate_nb

    url_map = Path(permutate_nb.__file__).parent / "examples" / "snapshots" / "url_map.yaml"
    monkeypatch.setenv("PERMUTATE_URL_MAP", str(url_map))
    return url_map


@pytest.fixture(autouse=True)
def _forget_snapshot_fallbacks() -> Iterator[None]:
    """Each test starts as a fresh process would: no URL known to have fallen back to a snapshot."""
    from permutate_nb.core.context import default_context

    default_context().fallbacks.clear()
    yield
    default_context().fallbacks.clear()
