"""Benchmark: enrich N HubSpot companies from Apollo and BuiltWith with the stand-ins at their
limits, then again within the cache TTL.

    .venv/bin/python bench/enrichment.py [--companies 2000]   # 10000 for the full figure (~9 min)
    DATABASE_URL=postgres://... .venv/bin/python bench/enrichment.py

Everything goes through the production path (integrations.registry.client_for, each source's
shared rate limit, the DB cache, HubSpot batch updates) against in-process stand-ins at
latency 0 over httpx.WSGITransport. Limits of this "bench plan": Apollo bulk organization
enrichment 2 calls/second (10 domains each), BuiltWith 10 lookups/second (16 domains each),
HubSpot 190 calls/10 s and 5 searches/s. The physical limit is the slowest source's calls
divided by its rate; the run's wall time is reported as a multiple of it.

Checks (exit 1 when one fails): the second run within the TTL makes 0 provider calls; credits
spent ≤ the Apollo monthly budget; HubSpot batch updates ≤ ⌈changed companies / 100⌉.
A throwaway test database is created and destroyed.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

import httpx  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from enrichment.models import EnrichmentRun  # noqa: E402
from enrichment.properties import properties_create, properties_plan  # noqa: E402
from enrichment.services import enrichment_run_create, enrichment_run_execute  # noqa: E402
from integrations import registry  # noqa: E402
from integrations.models import Connection  # noqa: E402
from pipelines.configuration import config_apply  # noqa: E402
from pipelines.models import RunTrigger, Workflow  # noqa: E402
from sandbox.apollo import ApolloSandbox  # noqa: E402
from sandbox.builtwith import BuiltWithSandbox  # noqa: E402
from sandbox.hubspot import HubSpotSandbox  # noqa: E402

APOLLO_PER_SECOND, APOLLO_BATCH = 2, 10
BUILTWITH_PER_SECOND, BUILTWITH_BATCH = 10, 16
WORKFLOW = """
workflows:
  - slug: bench-enrichment
    type: company_enrichment
    destination: {connection: hubspot-main, object: companies}
    select: {created_since_last_run: true}
    cache_ttl_hours: 24
    sources:
      - {name: apollo, connection: apollo-main, monthly_credits: BUDGET}
      - {name: builtwith, connection: builtwith-main}
    fields:
      - {to: numberofemployees, from: [apollo.estimated_num_employees]}
      - {to: industry, from: [apollo.industry], transforms: [hubspot_industry]}
      - {to: annualrevenue, from: [apollo.annual_revenue]}
      - {to: switchyard_tech_stack, from: [builtwith.technologies], overwrite: true}
    score:
      property: switchyard_fit_score
      rules:
        - {field: numberofemployees, op: between, value: [200, 5000], points: 30}
        - {field: switchyard_tech_stack, op: contains, value: Salesforce, points: 20}
"""


def _connection(name: str, provider: str, auth: str, per_second: int | None) -> None:
    conn = Connection.objects.create(
        name=name,
        provider=provider,
        auth_type=auth,
        rate_limit_requests=per_second,
        rate_limit_seconds=1 if per_second else None,
    )
    conn.token = f"{name}-bench-key"
    conn.save()


def _run(workflow: Workflow) -> tuple[float, EnrichmentRun]:
    since = datetime.now(UTC) - timedelta(days=1)
    run = enrichment_run_create(workflow=workflow, trigger=RunTrigger.MANUAL, since=since)
    started = time.perf_counter()
    run = enrichment_run_execute(run_id=run.pk)
    return time.perf_counter() - started, EnrichmentRun.objects.select_related("run").get(run=run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=2000)
    args = parser.parse_args()
    n = args.companies
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    hubspot = HubSpotSandbox(seed=3)
    apollo = ApolloSandbox(
        limits={"second": APOLLO_PER_SECOND * 10, "minute": 10**6, "hour": 10**7, "day": 10**8}
    )
    builtwith = BuiltWithSandbox(per_second=BUILTWITH_PER_SECOND)
    registry.TRANSPORT_OVERRIDES.update(
        hubspot=httpx.WSGITransport(app=hubspot),
        apollo=httpx.WSGITransport(app=apollo),
        builtwith=httpx.WSGITransport(app=builtwith),
    )
    try:
        _connection("hubspot-main", "hubspot", "private_app", None)
        _connection("apollo-main", "apollo", "api_key", APOLLO_PER_SECOND)
        _connection("builtwith-main", "builtwith", "api_key", BUILTWITH_PER_SECOND)
        config_apply(text=WORKFLOW.replace("BUDGET", str(n)), actor_label="bench")
        workflow = Workflow.objects.get(slug="bench-enrichment")
        client = registry.client_for(workflow.destination_connection)
        properties_create(
            client=client,
            plan=properties_plan(client=client, workflow=workflow),
            actor_label="bench",
        )
        hubspot.seed_objects(
            "companies", [{"domain": f"company{i}.com", "name": f"Company {i}"} for i in range(n)]
        )

        wall, first = _run(workflow)
        apollo_calls, builtwith_calls = math.ceil(n / APOLLO_BATCH), math.ceil(n / BUILTWITH_BATCH)
        limit = max(apollo_calls / APOLLO_PER_SECOND, builtwith_calls / BUILTWITH_PER_SECOND)
        changed = first.run.succeeded
        wall2, second = _run(workflow)

        print(f"database                 {connection.vendor}")
        print(
            f"companies                {n} ({first.run.status}: {changed} changed, {first.run.dead_lettered} dead-lettered)"
        )
        print(
            f"provider calls           {first.provider_calls} (apollo {apollo.calls('bulk_enrich')}, builtwith {builtwith.calls('api.json')}; needed {apollo_calls} + {builtwith_calls})"
        )
        print(
            f"physical limit           {limit:.1f} s (slowest source: Apollo {apollo_calls} calls at {APOLLO_PER_SECOND}/s)"
        )
        print(
            f"wall time, first run     {wall:.1f} s = {wall / limit:.2f} × the physical limit, {n / wall:.0f} companies/s"
        )
        print(
            f"credits spent            {first.credits_spent} (Apollo {apollo.credits_used}, budget {n}; BuiltWith {builtwith.credits_used})"
        )
        print(
            f"HubSpot batch updates    {first.hubspot_writes} (≤ ⌈{changed}/100⌉ = {math.ceil(changed / 100)})"
        )
        print(
            f"second run within TTL    {wall2:.1f} s, {second.provider_calls} provider calls, {second.cache_hits} cache hits, {second.hubspot_writes} HubSpot updates"
        )
        failures = []
        if second.provider_calls != 0:
            failures.append("the second run called a provider")
        if apollo.credits_used > n:
            failures.append("credits over budget")
        if first.hubspot_writes > math.ceil(changed / 100):
            failures.append("more HubSpot writes than ⌈changed/100⌉")
        if failures:
            sys.exit("FAILED: " + "; ".join(failures))
        print("checks                   OK")
    finally:
        registry.TRANSPORT_OVERRIDES.clear()
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
