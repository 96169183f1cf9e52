#!/usr/bin/env bash
# `make demo`: install, migrate, load demo data, then run the HubSpot sandbox, the web server,
# a Celery worker and Celery beat until Ctrl-C. SQLite and an embedded broker unless
# DATABASE_URL / REDIS_URL are set. A second run installs nothing and changes no data.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-config.settings.base}"
PORT="${PORT:-8000}"
SANDBOX_PORT="${SANDBOX_PORT:-8765}"
export SWITCHYARD_SANDBOX_URL="http://127.0.0.1:${SANDBOX_PORT}"
# Company enrichment stand-ins (docs/sandbox.md).
export SWITCHYARD_SANDBOX_APOLLO_URL="http://127.0.0.1:8767/api/v1"
export SWITCHYARD_SANDBOX_BUILTWITH_URL="http://127.0.0.1:8768"
export SWITCHYARD_SANDBOX_CLEARBIT_URL="http://127.0.0.1:8769"

echo "==> migrating (${DATABASE_URL:+PostgreSQL}${DATABASE_URL:-SQLite in var/})"
python manage.py migrate --no-input -v0
python manage.py demo_seed

pids=()
stop() {
  trap - INT TERM EXIT
  echo; echo "==> stopping"
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

if [ -f sandbox/hubspot/__main__.py ]; then
  python -m sandbox.hubspot --host 127.0.0.1 --port "$SANDBOX_PORT" & pids+=($!)
fi
for standin in apollo:8767 builtwith:8768 clearbit:8769; do
  python -m "sandbox.${standin%%:*}" --host 127.0.0.1 --port "${standin##*:}" & pids+=($!)
done
celery -A config worker -l INFO -c 2 -n "demo-worker@%h" & pids+=($!)
celery -A config beat -l INFO & pids+=($!)
python manage.py runserver "127.0.0.1:${PORT}" --noreload & pids+=($!)

sleep 2
# Company enrichment: demo companies and custom properties in the running HubSpot sandbox.
python manage.py enrichment_demo_companies || echo "(enrichment demo companies not seeded)"
cat <<MSG

  Switchyard is running:  http://127.0.0.1:${PORT}/admin/
  HubSpot sandbox:        ${SWITCHYARD_SANDBOX_URL}
  Apollo / BuiltWith / Clearbit stand-ins: ports 8767 / 8768 / 8769
  Ctrl-C stops the web server, the worker, beat and the sandbox.

MSG
wait -n "${pids[@]}"
