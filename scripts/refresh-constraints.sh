#!/usr/bin/env bash
# Re-resolve the test environment without pins and write the versions it got to constraints.txt.
# Run it when you want newer dependencies, then run the tests and commit both if they pass.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
python3 -m venv "$tmp/venv"
. "$tmp/venv/bin/activate"
python -m pip install -q --upgrade pip
grep -v '^-c ' requirements-dev.txt > "$tmp/requirements-unpinned.txt"
pip install -q -r "$tmp/requirements-unpinned.txt"
{
  echo "# Tested versions of everything the test suite installs; written by scripts/refresh-constraints.sh."
  pip freeze --exclude-editable | grep -v '^permutate-nb'
} > constraints.txt
echo "constraints.txt: $(grep -vc '^#' constraints.txt) pins"
