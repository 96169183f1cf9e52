#!/usr/bin/env bash
# Creates .venv with the tested versions and keeps it in step with the lock file: the demo and
# the tests need the development lock (runtime + pytest, Playwright, ruff), requirements-dev.lock.
# Production installs only the runtime lock: pip install --require-hashes --require-hashes -r requirements-dev.lock
# (docs/operations.md). Sourced by demo.sh and test.sh; a second run with an unchanged lock
# does nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

pick_python() {
  for candidate in python3.13 python3.12 python3.11 python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "Switchyard needs Python >= 3.11; none was found on PATH." >&2
  return 1
}

if [ ! -x .venv/bin/python ]; then
  py=$(pick_python)
  echo "==> creating .venv with $($py --version)"
  "$py" -m venv .venv
fi

stamp=.venv/.switchyard-lock
want=$(cat requirements-dev.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> installing the tested dependencies (requirements-dev.lock, hashes checked)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.lock
  echo "$want" > "$stamp"
fi
