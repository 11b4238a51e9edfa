#!/usr/bin/env bash
# Set everything up (a .venv with pmle and its dev tools) and run the whole check:
# lint (ruff), types (mypy) and the test suite (pytest). Works on a fresh clone with Python 3.11.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'

echo "== ruff"
.venv/bin/ruff check src tests
.venv/bin/ruff format --check src tests
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
.venv/bin/pytest -n 2 "$@"
