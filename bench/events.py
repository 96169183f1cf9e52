"""Benchmark: the event hub's fan-out through real Celery workers, with one subscriber down.

    DATABASE_URL=postgres://... REDIS_URL=redis://... .venv/bin/python bench/events.py
    ... bench/events.py --events 10000          # the full size: 10,000 events × 5 subscribers

Events (Standard Webhooks format, one deal each) are stored in batches of 100 by this process;
`celery worker` processes fan them out and deliver them to five subscribers served by
stand-ins on real ports: Slack-compatible, Clay table, finance (signed HTTP), HubSpot tasks,
and the warehouse (a table in the bench database). Two runs:

- healthy: every subscriber up;
- one down: the finance API answers 503 for the whole ingest (the circuit breaker pauses it,
  its deliveries wait), then comes back and must catch up.

Reported per run: deliveries/s, and p50/p99 event-to-delivery latency per subscriber
(delivered_at - received_at). Checked: every delivery delivered; the stand-ins saw each
delivery exactly once (by idempotency key / object id); the healthy subscribers' p99 in the
one-down run within 2x of the healthy run. Needs PostgreSQL and Redis (real workers).
The beat schedule's sweeper is run from here every 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
# Short schedule and pause so a down subscriber's backlog drains within the bench.
BENCH_ENV = {
    "EVENTS_RETRY_SCHEDULE": "0,1,2,4,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8",
    "EVENTS_BREAKER_COOLDOWN_SECONDS": "2",
    "EVENTS_DELIVERY_DEADLINE_SECONDS": "3600",
    "ALLOW_PRIVATE_BASE_URLS": "true",
}
os.environ.update(BENCH_ENV)

import django  # noqa: E402

django.setup()

import pipeline  # noqa: E402  (database_create)
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from config.celery import app  # noqa: E402
from events.intake import EventDraft, events_store  # noqa: E402
from events.models import Delivery, Event, Subscriber, Subscription  # noqa: E402
from events.sweep import deliveries_sweep  # noqa: E402
from integrations.models import AuthType, Connection, Provider  # noqa: E402
from integrations.services import connection_save  # noqa: E402
from sandbox.clay import ClaySandbox  # noqa: E402
from sandbox.finance import FinanceReceiver  # noqa: E402
from sandbox.hubspot import serve  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PORT_BASE = int(os.environ.get("BENCH_EVENTS_PORT_BASE", "9610"))
SECRET = "whsec_YmVuY2gtZmluYW5jZS1zaWduaW5nLWtleS0wMTIzNDU2"  # noqa: S105 - bench only


class CountingWsgi:
    """Slack chat.postMessage and HubSpot task batch-create, counted by what identifies a
    delivery (the Slack text carries the deal id; the task its objectWriteTraceId)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.seen: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, environ, start):  # noqa: ANN001, ANN204
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(length) or b"{}")
        if self.kind == "slack":
            key, answer, status = (
                body.get("text", ""),
                {"ok": True, "ts": f"{time.time():.6f}"},
                "200 OK",
            )
        else:
            item = body["inputs"][0]
            key = item.get("objectWriteTraceId", "")
            answer = {
                "status": "COMPLETE",
                "results": [{"id": "1", "properties": {}, "objectWriteTraceId": key}],
            }
            status = "201 Created"
        with self.lock:
            self.seen[key] += 1
        start(status, [("Content-Type", "application/json")])
        return [json.dumps(answer).encode()]


def connections_create(dsn: str) -> None:
    base = "http://127.0.0.1"
    specs = [
        (
            "slack-bench",
            Provider.SLACK,
            AuthType.BEARER,
            f"{base}:{PORT_BASE}/api",
            {"token": "xoxb-bench"},
        ),
        (
            "clay-bench",
            Provider.CLAY,
            AuthType.HEADER_TOKEN,
            f"{base}:{PORT_BASE + 1}/tables/signals/webhook",
            {"token": "t"},
        ),
        (
            "finance-bench",
            Provider.HTTP,
            AuthType.BEARER,
            f"{base}:{PORT_BASE + 2}",
            {"token": "t", "client_secret": SECRET},
        ),
        (
            "hubspot-bench",
            Provider.HUBSPOT,
            AuthType.PRIVATE_APP,
            f"{base}:{PORT_BASE + 3}",
            {"token": "pat-bench"},
        ),
        ("warehouse-bench", Provider.WAREHOUSE, AuthType.DSN, "", {"token": dsn}),
        ("billing", Provider.HTTP, AuthType.HMAC_SHA256, "", {"token": SECRET}),
    ]
    for name, provider, auth, url, secrets in specs:
        connection_save(
            connection=Connection(
                name=name,
                provider=provider,
                auth_type=auth,
                base_url=url,
                rate_limit_requests=1_000_000,
                rate_limit_seconds=1,
            ),
            secrets=secrets,
        )
    subscription = Subscription.objects.create(
        name="deal-won", source="billing", object_type="deal"
    )
    for name, kind, conn, options in [
        ("sales-channel", "slack", "slack-bench", {"channel": "#sales", "text": "Deal {id} won"}),
        ("account-signals", "clay_table", "clay-bench", {}),
        ("invoice", "http", "finance-bench", {"path": "/invoices"}),
        ("onboarding-task", "hubspot_task", "hubspot-bench", {"subject": "Onboard {id}"}),
        ("event-log", "warehouse", "warehouse-bench", {"table": "sy_bench_deal_events"}),
    ]:
        Subscriber.objects.create(
            subscription=subscription,
            name=name,
            kind=kind,
            connection=Connection.objects.get(name=conn),
            options=options,
        )


def worker_start(concurrency: int) -> subprocess.Popen:
    params = connection.settings_dict
    env = {
        **os.environ,
        **BENCH_ENV,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{params['USER']}@{params['HOST']}:{params['PORT']}/{params['NAME']}",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-c",
            str(concurrency),
            "-P",
            "prefork",
            "-n",
            f"bench-events-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return (
        ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]
        if ordered
        else float("nan")
    )


def ingest(run: str, n: int) -> None:
    for start in range(0, n, 100):
        drafts = []
        for i in range(start, min(n, start + 100)):
            deal = f"{run}-{i}"
            drafts.append(
                EventDraft(
                    dedupe_key=f"standard:{deal}",
                    source_event_id=deal,
                    type="deal.won",
                    occurred_at=timezone.now(),
                    payload={"type": "deal.won", "data": {"id": deal}},
                    object_type="deal",
                    object_id=deal,
                    fields={"id": deal, "amount": 1000 + i},
                )
            )
        events_store(source="billing", kind="standard", drafts=drafts)


def wait_all_delivered(run: str, expected: int, limit: float) -> float:
    started = time.monotonic()
    last_sweep = 0.0
    while time.monotonic() - started < limit:
        if time.monotonic() - last_sweep > 2:
            deliveries_sweep()
            last_sweep = time.monotonic()
        done = Delivery.objects.filter(
            event__object_id__startswith=f"{run}-", state="delivered"
        ).count()
        if done >= expected:
            return time.monotonic() - started
        time.sleep(0.5)
    return float("nan")


def one_run(label: str, n: int, finance: FinanceReceiver, down: bool, limit: float) -> dict:
    finance.down = down
    started = time.monotonic()
    ingest(label, n)
    if down:
        # The finance API stays down until every other subscriber has its deliveries.
        others = 4 * n
        while (
            Delivery.objects.filter(
                event__object_id__startswith=f"{label}-", state="delivered"
            ).count()
            < others
        ):
            if time.monotonic() - started > limit:
                break
            deliveries_sweep()
            time.sleep(1)
        finance.down = False
    wait_all_delivered(label, 5 * n, limit)
    seconds = time.monotonic() - started
    rows = Delivery.objects.filter(event__object_id__startswith=f"{label}-").values_list(
        "subscriber__name", "state", "delivered_at", "event__received_at"
    )
    latency: dict[str, list[float]] = {}
    states: Counter[str] = Counter()
    for name, state, delivered_at, received_at in rows:
        states[state] += 1
        if delivered_at:
            latency.setdefault(name, []).append((delivered_at - received_at).total_seconds() * 1000)
    return {
        "label": label,
        "seconds": seconds,
        "states": states,
        "latency": latency,
        "rate": states["delivered"] / seconds if seconds else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--limit", type=float, default=240, help="seconds per run at most")
    args = parser.parse_args()
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        sys.exit(
            "bench/events.py needs DATABASE_URL (PostgreSQL) and REDIS_URL: real workers share them"
        )
    old_name = pipeline.database_create("_events")
    params = connection.settings_dict
    dsn = f"postgresql://{params['USER']}@{params['HOST']}:{params['PORT']}/{params['NAME']}"
    slack, tasks = CountingWsgi("slack"), CountingWsgi("tasks")
    clay, finance = ClaySandbox(callback_delay=0), FinanceReceiver(secrets=[SECRET])
    servers = [
        serve(app_, "127.0.0.1", PORT_BASE + i)[0]
        for i, app_ in enumerate([slack, clay, finance, tasks])
    ]
    app.control.purge()
    worker = worker_start(args.concurrency)
    failed = False
    try:
        connections_create(dsn)
        time.sleep(3)  # the worker boots
        healthy = one_run("healthy", args.events, finance, False, args.limit)
        degraded = one_run("down", args.events, finance, True, args.limit)
        for result in (healthy, degraded):
            print(
                f"{result['label']:8s} {args.events} events × 5: {dict(result['states'])} in "
                f"{result['seconds']:.1f} s = {result['rate']:,.0f} deliveries/s"
            )
            for name, values in sorted(result["latency"].items()):
                print(
                    f"    {name:16s} p50 {percentile(values, 0.5):8.0f} ms   p99 {percentile(values, 0.99):8.0f} ms   n={len(values)}"
                )
        checks = []
        n = 2 * args.events
        checks.append(
            (
                "every delivery delivered",
                Delivery.objects.exclude(state="delivered").count() == 0,
                f"{Delivery.objects.exclude(state='delivered').count()} not delivered",
            )
        )
        finance_stats = finance.stats()
        checks.append(
            (
                "finance: each once",
                finance_stats["unique"] == n and finance_stats["duplicates"] == 0,
                str(finance_stats),
            )
        )
        checks.append(
            (
                "slack: each once",
                len(slack.seen) == n and max(slack.seen.values()) == 1,
                f"{len(slack.seen)} unique",
            )
        )
        checks.append(
            (
                "tasks: each once",
                len(tasks.seen) == n and max(tasks.seen.values()) == 1,
                f"{len(tasks.seen)} unique",
            )
        )
        clay_keys = Counter(r["idempotency_key"] for r in clay.rows.get("signals", []))
        checks.append(
            (
                "clay: each once",
                len(clay_keys) == n and max(clay_keys.values()) == 1,
                f"{len(clay_keys)} unique",
            )
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*), count(DISTINCT event_id) FROM sy_bench_deal_events")
            total, distinct = cursor.fetchone()
        checks.append(("warehouse: each once", total == distinct == n, f"{total} rows"))
        for name in ("sales-channel", "account-signals", "onboarding-task", "event-log"):
            p99_healthy = percentile(healthy["latency"].get(name, []), 0.99)
            p99_down = percentile(degraded["latency"].get(name, []), 0.99)
            checks.append(
                (
                    f"{name} p99 unaffected",
                    p99_down <= 2 * p99_healthy,
                    f"{p99_down:.0f} ms vs {p99_healthy:.0f} ms healthy",
                )
            )
        print(f"events stored: {Event.objects.count()}")
        for name, passed, detail in checks:
            print(f"{'ok  ' if passed else 'FAIL'} {name:32s} {detail}")
            failed |= not passed
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        for server in servers:
            server.shutdown()
            server.server_close()
        connection.creation.destroy_test_db(old_name, verbosity=0)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
