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
SLACK_SANDBOX_PORT="${SLACK_SANDBOX_PORT:-8766}"
export SWITCHYARD_SANDBOX_SLACK_URL="http://127.0.0.1:${SLACK_SANDBOX_PORT}"
# The deal-won example logs to the warehouse table deal_events (docs/events.md): allow it.
export WAREHOUSE_TABLE_PREFIXES="${WAREHOUSE_TABLE_PREFIXES:-sy_,deal_}"
# Company enrichment stand-ins (docs/sandbox.md).
export SWITCHYARD_SANDBOX_APOLLO_URL="http://127.0.0.1:8767/api/v1"
export SWITCHYARD_SANDBOX_BUILTWITH_URL="http://127.0.0.1:8768"
export SWITCHYARD_SANDBOX_CLEARBIT_URL="http://127.0.0.1:8769"

pids=()
stop() {
  trap - INT TERM EXIT
  echo; echo "==> stopping"
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

# The HubSpot sandbox starts first: demo_seed loads the demo's runs through the real pipeline
# into it (and, after a restart emptied it, forgets the demo's sync state with it), so the
# sandbox and Switchyard agree and the sample import creates contacts.
python -m sandbox.hubspot --host 127.0.0.1 --port "$SANDBOX_PORT" & pids+=($!)
if [ -f sandbox/slack/__main__.py ]; then
  python -m sandbox.slack --host 127.0.0.1 --port "$SLACK_SANDBOX_PORT" & pids+=($!)
fi
for standin in apollo:8767 builtwith:8768 clearbit:8769; do
  python -m "sandbox.${standin%%:*}" --host 127.0.0.1 --port "${standin##*:}" & pids+=($!)
done
# Event hub stand-ins: Clay table webhooks that call back, and the finance API receiver.
python -m sandbox.clay --host 127.0.0.1 --port "${CLAY_PORT:-8770}" & pids+=($!)
python -m sandbox.finance --host 127.0.0.1 --port "${FINANCE_PORT:-8771}" \
  --secret "whsec_c3dpdGNoeWFyZC1kZW1vLWZpbmFuY2Uta2V5LTMyYiE=" & pids+=($!)  # = events.demo.DEMO_FINANCE_SIGNING_SECRET
python - "$SWITCHYARD_SANDBOX_URL" <<'PY'
import sys, time, urllib.request
for _ in range(50):  # up to ~10 s
    try:
        urllib.request.urlopen(sys.argv[1] + "/__sandbox__/state", timeout=1).close()
        break
    except OSError:
        time.sleep(0.2)
PY

echo "==> migrating (${DATABASE_URL:+PostgreSQL}${DATABASE_URL:-SQLite in var/})"
python manage.py migrate --no-input -v0
python manage.py demo_seed

celery -A config worker -l INFO -c 2 -n "demo-worker@%h" & pids+=($!)
celery -A config beat -l INFO & pids+=($!)
python manage.py runserver "127.0.0.1:${PORT}" --noreload & pids+=($!)

sleep 2
# Company enrichment: demo companies and custom properties in the running HubSpot sandbox.
python manage.py enrichment_demo_companies || echo "(enrichment demo companies not seeded)"
cat <<MSG

  Switchyard is running:  http://127.0.0.1:${PORT}/admin/
  HubSpot sandbox:        ${SWITCHYARD_SANDBOX_URL}
  Clay / finance:         http://127.0.0.1:${CLAY_PORT:-8770}  http://127.0.0.1:${FINANCE_PORT:-8771}
  Slack sandbox:          ${SWITCHYARD_SANDBOX_SLACK_URL}/  (messages the demo posted)
  Apollo / BuiltWith / Clearbit stand-ins: ports 8767 / 8768 / 8769
  Ctrl-C stops the web server, the worker, beat and the sandbox.

MSG
wait -n "${pids[@]}"
