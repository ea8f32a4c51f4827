#!/usr/bin/env bash
# Set up (first time) and run rasoat on the embedded default: a SQLite file under ./data and,
# without TELEGRAM_BOT_TOKEN, the console chat. Extra arguments go to `rasoat run`.
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/rasoat ] || [ pyproject.toml -nt .venv/.installed ]; then
  "$PY" -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -e .
  touch .venv/.installed
fi
exec .venv/bin/rasoat run "$@"
