#!/usr/bin/env bash
# `make bench`: the pipeline, routing and webhook benchmarks, and the soak with real workers
# when PostgreSQL and Redis are configured. Each creates and drops its own test database:
# SQLite by default, PostgreSQL when DATABASE_URL is set.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}

echo "==> bench/pipeline.py $*"
"$PYTHON" bench/pipeline.py "$@"
echo "==> bench/routing.py"
"$PYTHON" bench/routing.py
echo "==> bench/enrichment.py (company enrichment, 2,000 companies)"
"$PYTHON" bench/enrichment.py
echo "==> bench/webhook.py"
"$PYTHON" bench/webhook.py
if [[ "${DATABASE_URL:-}" == postgres* && -n "${REDIS_URL:-}" ]]; then
  echo "==> bench/soak.py"
  "$PYTHON" bench/soak.py
  echo "==> bench/events.py (add --events 10000 for the full size)"
  "$PYTHON" bench/events.py
else
  echo "==> bench/events.py skipped: real Celery workers need DATABASE_URL (PostgreSQL) and REDIS_URL"
  echo "==> bench/soak.py skipped: real Celery workers need DATABASE_URL (PostgreSQL) and REDIS_URL"
fi
