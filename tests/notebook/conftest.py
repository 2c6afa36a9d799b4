"""An IPython shell with the extension loaded, for driving the magics from pytest."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "permutate_nb")
    yield ip
    ip.user_ns.pop("result", None)
