#!/usr/bin/env bash
# `make bench`: the pipeline, routing and webhook benchmarks. Both create and drop
# their own test database: SQLite by default, PostgreSQL when DATABASE_URL is set.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}

echo "==> bench/pipeline.py $*"
"$PYTHON" bench/pipeline.py "$@"
echo "==> bench/routing.py"
"$PYTHON" bench/routing.py
echo "==> bench/webhook.py"
"$PYTHON" bench/webhook.py
