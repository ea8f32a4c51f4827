#!/usr/bin/env bash
# Set up (first time) and run rasoat on the embedded default: a SQLite file under ./data and,
# without TELEGRAM_BOT_TOKEN, the console chat. Extra arguments go to `rasoat run`.
# Dependencies come pinned, with hashes, from requirements.lock (regenerate: docs/deployment.md "Dependencies").
set -euo pipefail
cd "$(dirname "$0")"
umask 077  # the data folder holds personal data: owner-only files
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/rasoat ] || [ requirements.lock -nt .venv/.installed ] || [ pyproject.toml -nt .venv/.installed ]; then
  "$PY" -m venv .venv
  .venv/bin/pip install --quiet --require-hashes -r requirements.lock
  .venv/bin/pip install --quiet --no-deps -e .
  touch .venv/.installed
fi
exec .venv/bin/rasoat run "$@"
