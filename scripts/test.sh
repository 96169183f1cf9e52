#!/usr/bin/env bash
# The whole suite: ruff, then pytest. PostgreSQL and Redis when DATABASE_URL / REDIS_URL are set,
# SQLite and an in-memory broker otherwise (tests that need the real servers skip with a reason).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"

echo "==> ruff check and ruff format --check"
ruff check .
ruff format --check .

echo "==> pytest (database: ${DATABASE_URL:+PostgreSQL}${DATABASE_URL:-SQLite}, broker: ${REDIS_URL:+Redis}${REDIS_URL:-memory})"
python -m pytest "$@"
