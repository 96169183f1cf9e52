"""Benchmark: the Clay inbound webhook, verify + store + enqueue, request by request.

    .venv/bin/python bench/webhook.py [--requests 3000]
    DATABASE_URL=postgres://... REDIS_URL=redis://... .venv/bin/python bench/webhook.py

Each request goes through the whole Django stack (middleware, the view, the constant-time
token check, JSON parsing, the InboundEvent INSERT with its unique dedupe key, the Celery
publish on commit) via the in-process test client, so the figure is our server time without
the network. Clay sends one request per row, in bursts (docs/reference/clay.md#http-api-column), and the target is
a p99 under 50 ms (docs/reference/reliability.md#webhook-latency measured ~21 ms saturated on 2 cores). The
baseline in the same run is Django's own floor: /healthz through the same stack.
A throwaway test database is created and destroyed. The same endpoint under gunicorn, at a
fixed request rate with a real worker beside it: bench/webhook_server.py.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from integrations.models import Connection  # noqa: E402
from integrations.services import connection_save  # noqa: E402
from pipelines.models import InboundEvent, Workflow  # noqa: E402

SECRET = "bench-clay-shared-secret-000000"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def timed(send, n: int) -> list[float]:
    samples = []
    for i in range(n):
        start = time.perf_counter()
        send(i)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        clay = connection_save(
            connection=Connection(name="clay-bench", provider="clay", auth_type="header_token"),
            secrets={"token": SECRET},
        )
        hubspot = connection_save(
            connection=Connection(name="hubspot-bench", provider="hubspot"),
            secrets={"token": "pat-na1-bench-token-0000000000"},
        )
        Workflow.objects.create(
            slug="clay-bench", source_connection=clay, destination_connection=hubspot
        )
        client = Client()
        sequence = iter(range(10**9))

        def post(_: int) -> None:
            # Every row differs: identical bodies within 24 h are acknowledged as duplicates.
            body = json.dumps(
                {
                    "Email": f"row{next(sequence)}@example.com",
                    "First Name": "Ada",
                    "Company Name": "Acme",
                }
            )
            response = client.post(
                "/hooks/clay/clay-bench/",
                body,
                content_type="application/json",
                headers={"X-Switchyard-Token": SECRET},
            )
            assert response.status_code == 202, response.content

        def healthz(_: int) -> None:
            client.get("/healthz")

        timed(post, 50)  # warm up connections, caches and imports
        webhook = timed(post, args.requests)
        floor = timed(healthz, args.requests)
        stored = InboundEvent.objects.count()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)

    database = "PostgreSQL" if connection.vendor == "postgresql" else "SQLite"
    broker = "Redis" if os.environ.get("REDIS_URL") else "in-memory"
    print(
        f"Clay webhook, {args.requests} requests, {database}, {broker} broker; {stored} events stored"
    )
    for name, samples in (
        ("webhook (verify+store+enqueue)", webhook),
        ("baseline /healthz", floor),
    ):
        print(
            f"  {name:32s} p50 {percentile(samples, 0.5):6.2f} ms  p95 {percentile(samples, 0.95):6.2f} ms"
            f"  p99 {percentile(samples, 0.99):6.2f} ms  ({1000 / statistics.mean(samples):6.0f} req/s serial)"
        )
    print(
        f"  webhook p99 / target 50 ms: {percentile(webhook, 0.99) / 50:.2f}; "
        f"webhook p50 / Django floor p50: {percentile(webhook, 0.5) / percentile(floor, 0.5):.1f}x"
    )


if __name__ == "__main__":
    main()
