"""The core imports no notebook machinery: faces depend on the core, never the reverse."""

from __future__ import annotations

import subprocess
import sys


def test_core_imports_no_ipython_or_widgets() -> None:
    code = (
        "import sys, permutate_nb, permutate_nb.core.engine, permutate_nb.cli, permutate_nb.export\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('IPython', 'ipywidgets', 'ipykernel', 'matplotlib'))\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
