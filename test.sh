#!/usr/bin/env bash
# Set up (first time) and run the whole test suite: lint, a dependency audit when the
# vulnerability database can be reached, then pytest on SQLite and, when the server answers
# (required when CI=true), on PostgreSQL at 127.0.0.1:5432 (database `test`).
# Dependencies come pinned, with hashes, from requirements-dev.lock (docs/deployment.md "Dependencies").
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/pytest ] || [ requirements-dev.lock -nt .venv/.installed-dev ] \
    || [ pyproject.toml -nt .venv/.installed-dev ]; then
  "$PY" -m venv .venv
  .venv/bin/pip install --quiet --require-hashes -r requirements-dev.lock
  .venv/bin/pip install --quiet --no-deps -e .
  touch .venv/.installed-dev
fi
.venv/bin/ruff check .
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  # the web view's browser tests (tests/test_webview.py) drive Debian's headless Chromium;
  # without apt they skip with the reason, unless CI=true
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; } \
    >/dev/null 2>&1 || echo "chromium: not installed (apt-get unavailable or failed); browser tests will skip"
fi
audit() {
  # pip-audit asks PyPI's vulnerability data about every pinned package; no network is no
  # reason to fail the suite, known vulnerabilities are.
  local reason
  if ! reason=$(.venv/bin/python - <<'PY' 2>&1
import json, sys, urllib.request
try:
    with urllib.request.urlopen("https://pypi.org/pypi/pip/json", timeout=8) as r:
        ok = "vulnerabilities" in json.load(r)
except Exception as exc:
    sys.exit(f"{type(exc).__name__}: {exc}")
if not ok:
    sys.exit("PyPI's JSON API answers without vulnerability data")
PY
  ); then
    echo "pip-audit: skipped (vulnerability database unreachable: ${reason##*$'\n'})"
    return 0
  fi
  local out
  if out=$(timeout 300 .venv/bin/pip-audit --progress-spinner off -r requirements-dev.lock --require-hashes \
      --disable-pip 2>&1); then
    if grep -q "could not be audited" <<<"$out"; then
      echo "pip-audit: skipped for $(grep -c 'could not be audited' <<<"$out") packages (vulnerability data" \
        "unavailable: $(grep -m1 'could not be audited' <<<"$out" | sed 's/^[^ ]* *//'))"
    else
      echo "pip-audit: no known vulnerabilities in requirements-dev.lock"
    fi
  elif grep -qi "found [0-9]* known vulnerabilit" <<<"$out"; then
    echo "$out"
    return 1
  else
    echo "pip-audit: skipped (could not query the vulnerability database: $(tail -1 <<<"$out"))"
  fi
}
audit
# two workers: the long kill tests run beside the rest (PYTEST_WORKERS=0 runs in one process)
exec .venv/bin/pytest -q -p no:cacheprovider -n "${PYTEST_WORKERS:-2}" "$@"
