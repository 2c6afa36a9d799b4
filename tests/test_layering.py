"""The layering is a contract: faces (notebook, cli, server, client) -> export -> core, never upwards.

import-linter reads every import statement, including the lazy ones inside functions that a
``sys.modules`` check after importing the package would miss. The contracts live in
pyproject.toml ``[tool.importlinter]``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from .helpers import DEADLINE

ROOT = Path(__file__).resolve().parents[1]
INSIDE_THE_CORE = "# Inside the core"  # pyproject.toml: the contracts after this line name the core's own modules


def _lint(config: Path, cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    code = ("import sys; from importlinter.cli import lint_imports; "
            "sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True, no_logo=True))")
    return subprocess.run([sys.executable, "-c", code, str(config)], cwd=cwd, capture_output=True, text=True,
                          env={"PYTHONPATH": str(pythonpath), "PATH": "/usr/bin:/bin"}, timeout=DEADLINE)


def test_the_package_keeps_its_layers() -> None:
    run = _lint(ROOT / "pyproject.toml", ROOT, ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Contracts: 3 kept, 0 broken." in run.stdout


def test_a_lazy_import_of_a_face_in_the_core_is_caught(tmp_path: Path) -> None:
    """The same contracts on a tiny package whose core imports the notebook layer inside a function."""
    pkg = tmp_path / "permutate_nb"
    for sub in ("core", "notebook", "server"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "export.py").write_text("from .core import results\n")
    (pkg / "cli.py").write_text("from . import export\n")
    (pkg / "tqdm_reporter.py").write_text("")
    (pkg / "client.py").write_text("")
    (pkg / "core" / "results.py").write_text(textwrap.dedent("""
        def show(result):
            from ..notebook.view import render  # lazy: invisible to a sys.modules check after import
            return render(result)
    """))
    (pkg / "notebook" / "view.py").write_text("def render(result):\n    return result\n")
    config = tmp_path / "pyproject.toml"
    faces_only = (ROOT / "pyproject.toml").read_text(encoding="utf-8").split(INSIDE_THE_CORE)[0]
    config.write_text(faces_only, encoding="utf-8")
    run = _lint(config, tmp_path, tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "permutate_nb.core.results -> permutate_nb.notebook.view (l.3)" in run.stdout


def test_importing_the_package_patches_nothing_and_loads_no_face() -> None:
    code = (
        "import sys, warnings\n"
        "before = warnings.showwarning\n"
        "import permutate_nb, permutate_nb.cli\n"
        "from permutate_nb.core import context\n"
        "assert warnings.showwarning is before, 'warnings.showwarning was patched'\n"
        "assert context._default is None, 'a default context was created at import'\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('IPython', 'ipywidgets', 'matplotlib', 'llama_cpp')))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=DEADLINE)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
