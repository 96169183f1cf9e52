"""Benchmark: route 10,000 MQL webhook events against the in-process HubSpot sandbox.

    .venv/bin/python bench/routing.py [--leads 10000] [--batch 100]
    DATABASE_URL=postgres://... .venv/bin/python bench/routing.py   # on PostgreSQL

Events go through the real path (store as InboundEvents, then the worker's service: batch
reads, score, rules, locked strategy choice, decision row, owner update, deal above the
threshold) with the sandbox at latency 0 over httpx.WSGITransport. The figure reported is
each RoutingDecision's ``decision_ms``: our own time to decide (scoring, rule evaluation,
the locked round-robin turn and the decision's INSERT), HubSpot's latency excluded.
Target: p95 < 20 ms. A throwaway test database is created and destroyed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django

django.setup()

import httpx  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from integrations import registry  # noqa: E402
from integrations.models import Connection  # noqa: E402
from pipelines.configuration import config_apply  # noqa: E402
from pipelines.models import RoutingConfig, RoutingDecision  # noqa: E402
from pipelines.routing import tasks  # noqa: E402
from pipelines.routing.intake import routing_events_process, routing_events_store  # noqa: E402
from sandbox.hubspot import HubSpotSandbox  # noqa: E402

TOKEN = "pat-na1-00000000-bench-0000-000000000000"
OWNERS = [
    ("12345", "Alice"),
    ("23456", "Bob"),
    ("67890", "Wendy"),
    ("11111", "Emma"),
    ("22222", "Erik"),
]
CONFIG = """
territories:
  - {name: East, strategy: round_robin, owners: ["12345", "23456"]}
  - {name: West, strategy: fixed, owners: ["67890"]}
  - name: EMEA
    strategy: weighted_round_robin
    owners: [{id: "11111", weight: 2, daily_cap: 100000}, {id: "22222", weight: 1}]
routing:
  workflow: mql-routing
  hubspot: hubspot-main
  deal_threshold: 75
  fallback_territory: East
  rules:
    - {territory: EMEA, when: {country: {in: [GB, DE, FR, NL, ES, IT, IE, SE]}}}
    - {territory: West, when: {state: {in: [CA, WA, OR, NV, AZ, CO, UT]}}}
    - {territory: East, when: {country: {in: [US, CA]}}}
  scoring_rules:
    - {name: large company, points: 60, when: {employee_count: {range: {min: 500}}}}
    - {name: target industry, points: 20, when: {industry: {in: [COMPUTER_SOFTWARE, FINANCIAL_SERVICES]}}}
    - {name: senior title, points: 10, when: {contact.jobtitle: {contains: VP}}}
"""
PLACES = [
    ("US", "NY"),
    ("US", "CA"),
    ("GB", ""),
    ("DE", ""),
    ("US", "TX"),
    ("CA", "ON"),
    ("FR", ""),
    ("BR", ""),
]


def sandbox_build(leads: int) -> tuple[HubSpotSandbox, list[str]]:
    app = HubSpotSandbox(
        owners=[{"id": i, "firstName": n, "lastName": "Bench"} for i, n in OWNERS],
        tokens={TOKEN},
        rate_limit=10**9,
        daily_limit=None,
        latency_ms=0,
    )
    companies = app.seed_objects(
        "companies",
        [
            {
                "name": f"Company {n}",
                "domain": f"c{n}.example.com",
                "numberofemployees": str(50 * (n % 20)),
                "industry": ("COMPUTER_SOFTWARE", "RETAIL", "FINANCIAL_SERVICES")[n % 3],
            }
            for n in range(1000)
        ],
    )
    contacts = app.seed_objects(
        "contacts",
        [
            {
                "email": f"lead{n}@example.com",
                "firstname": f"Lead{n}",
                "country": PLACES[n % len(PLACES)][0],
                "state": PLACES[n % len(PLACES)][1],
                "jobtitle": "VP Sales" if n % 4 == 0 else "Manager",
                "associatedcompanyid": companies[n % len(companies)],
            }
            for n in range(leads)
        ],
    )
    return app, contacts


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument(
        "--batch", type=int, default=100, help="events per webhook delivery and per task"
    )
    args = parser.parse_args()

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        app, contacts = sandbox_build(args.leads)
        registry.TRANSPORT_OVERRIDE = httpx.WSGITransport(app=app)
        Connection.objects.create(
            name="hubspot-main",
            provider="hubspot",
            auth_type="private_app",
            base_url="http://sandbox.test",
            token=TOKEN,
            client_secret="bench-secret",
            rate_limit_requests=10**9,
            rate_limit_seconds=1,
        )
        config_apply(text=CONFIG, actor_label="bench")
        config = RoutingConfig.objects.get()
        tasks.routing_events_process_task.delay = lambda ids: (
            None
        )  # the bench plays the worker below

        started = time.perf_counter()
        for start in range(0, len(contacts), args.batch):
            events = [
                {
                    "eventId": n,
                    "subscriptionId": 1,
                    "portalId": 62515,
                    "occurredAt": 1_700_000_000_000 + n,
                    "subscriptionType": "contact.propertyChange",
                    "objectId": int(contacts[n]),
                    "propertyName": "lifecyclestage",
                    "propertyValue": "marketingqualifiedlead",
                }
                for n in range(start, min(start + args.batch, len(contacts)))
            ]
            ids = routing_events_store(config=config, events=events)
            routing_events_process(event_ids=ids)
        wall = time.perf_counter() - started

        timings = list(RoutingDecision.objects.values_list("decision_ms", flat=True))
        routed = RoutingDecision.objects.filter(status="routed").count()
        deals = RoutingDecision.objects.exclude(deal_id="").count()
        print(f"database            {connection.vendor}")
        print(f"leads routed        {routed} of {args.leads} ({deals} deals)")
        print(f"decision time p50   {statistics.median(timings):.2f} ms")
        print(
            f"decision time p95   {percentile(timings, 95):.2f} ms   (target < 20 ms; HubSpot latency excluded)"
        )
        print(f"decision time max   {max(timings):.2f} ms")
        print(
            f"end to end          {wall:.1f} s, {args.leads / wall:.0f} leads/s (incl. in-process sandbox calls)"
        )
        if routed != args.leads:
            sys.exit("not every lead was routed")
    finally:
        registry.TRANSPORT_OVERRIDE = None
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
