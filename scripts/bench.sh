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
echo "==> bench/operations.py"
"$PYTHON" bench/operations.py --runs 1500 --requests 30000
echo "==> bench/bad_rows.py"
"$PYTHON" bench/bad_rows.py
if command -v initdb >/dev/null && command -v redis-server >/dev/null; then
  # Private PostgreSQL and Redis on ports 9720-9725 (BENCH_PORT_BASE): import_csv --wait
  # through a worker and beat started as docs/operations.md says; then three portals at once.
  echo "==> bench/end_to_end.py (one portal)"
  "$PYTHON" bench/end_to_end.py --port-base "${BENCH_PORT_BASE:-9720}"
  echo "==> bench/end_to_end.py (one portal, HubSpot at 40 ms a call)"
  "$PYTHON" bench/end_to_end.py --latency-ms 40 --port-base "${BENCH_PORT_BASE:-9720}"
  echo "==> bench/end_to_end.py (the import wizard through gunicorn)"
  "$PYTHON" bench/end_to_end.py --via wizard --port-base "${BENCH_PORT_BASE:-9720}"
  echo "==> bench/end_to_end.py (three portals)"
  "$PYTHON" bench/end_to_end.py --portals 3 --port-base "${BENCH_PORT_BASE:-9720}"
  echo "==> bench/faults.py (each fault at 30 %: time from the fault clearing to the run's end)"
  "$PYTHON" bench/faults.py --port-base "${BENCH_PORT_BASE:-9720}"
  # gunicorn as docs/operations.md runs it, a worker and beat beside it, an open-loop load.
  echo "==> bench/webhook_server.py (Clay and HubSpot webhooks under gunicorn)"
  "$PYTHON" bench/webhook_server.py --rates 300,600,1000 --port-base "${BENCH_PORT_BASE:-9720}"
  # The event hub through a worker and beat on its own private servers (ports 9730-9736):
  # 300 events x 5 subscribers, one down, a worker SIGKILLed mid-chain. --events 10000 is the
  # full size (a few minutes; docs/events.md, "Benchmark").
  echo "==> bench/events.py (add --events 10000 for the full size)"
  "$PYTHON" bench/events.py --port-base "${BENCH_EVENTS_PORT_BASE:-9730}"
else
  echo "==> bench/end_to_end.py and bench/events.py skipped: need initdb and redis-server for their private servers"
fi
if [[ "${DATABASE_URL:-}" == postgres* ]]; then
  # A scratch database beside DATABASE_URL's (<name>_screens_bench), seeded in SQL and dropped.
  echo "==> bench/screens.py (list and detail pages, cold and warm)"
  "$PYTHON" bench/screens.py --records "${BENCH_SCREENS_RECORDS:-1000000}" \
    --letters "${BENCH_SCREENS_LETTERS:-100000}"
else
  echo "==> bench/screens.py skipped: seeds a scratch PostgreSQL database (set DATABASE_URL)"
fi
if [[ "${DATABASE_URL:-}" == postgres* && -n "${REDIS_URL:-}" ]]; then
  echo "==> bench/soak.py"
  "$PYTHON" bench/soak.py
else
  echo "==> bench/soak.py skipped: real Celery workers need DATABASE_URL (PostgreSQL) and REDIS_URL"
fi
