#!/usr/bin/env bash
# Set up (first time) and run the whole test suite: lint, then pytest on SQLite and, when the
# server answers (required when CI=true), on PostgreSQL at 127.0.0.1:5432 (database `test`).
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/pytest ] || [ pyproject.toml -nt .venv/.installed-dev ]; then
  "$PY" -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -e '.[dev]'
  touch .venv/.installed-dev
fi
.venv/bin/ruff check .
exec .venv/bin/pytest -q -p no:cacheprovider "$@"
