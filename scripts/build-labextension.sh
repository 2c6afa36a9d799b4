#!/usr/bin/env bash
# Rebuild the JupyterLab 4 / Notebook 7 extension from labextension/ into permutate_nb/labextension/
# (committed: installing the package needs no node). Needs node >= 18 and jupyterlab (requirements-dev.txt)
# in the Python environment on PATH, or PYTHON=/path/to/python. Commit permutate_nb/labextension/ after it.
set -euo pipefail
cd "$(dirname "$0")/../labextension"
PYTHON="${PYTHON:-python}"
BIN="$(dirname "$("$PYTHON" -c 'import sys; print(sys.executable)')")"
export PATH="$BIN:$PATH"  # jupyter labextension build runs jupyter-builder from it
# the core's package.json (its shared packages and their versions) from the installed JupyterLab: nothing is looked up online
CORE="$("$PYTHON" -c 'import jupyterlab, pathlib; print(pathlib.Path(jupyterlab.__file__).parent / "staging" / "package.json")')"
jlpm install --immutable
rm -rf lib tsconfig.tsbuildinfo ../permutate_nb/labextension/static
jlpm exec tsc
jupyter labextension build --core-package-file "$CORE" .
cp install.json ../permutate_nb/labextension/  # the build empties its output folder; this says "installed by pip"
echo "built: $(cd ../permutate_nb/labextension && find . -type f | sort | tr '\n' ' ')"
