"""Benchmark: what the operations layer costs on a busy install.

    .venv/bin/python bench/operations.py [--workflows 20] [--runs 5000] [--requests 200000]
    DATABASE_URL=postgres://... .venv/bin/python bench/operations.py   # on PostgreSQL

Seeds ``workflows`` workflows with ``runs`` finished runs each, ``requests`` request-log rows
and a dead letter per 50 runs, then times (median of 5) one alert evaluation with the
default rules (the per-minute beat task; probes off), one /metrics scrape and one render of
the operations home's figures. Target: evaluation and scrape well under a second, so the
minute between ticks and a 15-60 s scrape interval stay mostly idle. A throwaway test
database is created and destroyed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402

from integrations.models import Connection, RequestLog  # noqa: E402
from monitoring.figures import quality_trends, quotas, workflow_statuses  # noqa: E402
from monitoring.metrics import SwitchyardCollector  # noqa: E402
from monitoring.services import alert_rules_defaults_ensure, alerts_evaluate  # noqa: E402
from pipelines.models import FieldMappingVersion, Run, Workflow  # noqa: E402


def seed(workflows: int, runs: int, requests: int) -> None:
    now = timezone.now()
    hubspot = Connection.objects.create(name="hubspot-main", provider="hubspot", token="pat-x")
    for w in range(workflows):
        workflow = Workflow.objects.create(slug=f"workflow-{w}", destination_connection=hubspot)
        FieldMappingVersion.objects.create(
            workflow=workflow, version=1, rules=[{"from": "Email", "to": "email", "required": True}]
        )
        batch = []
        for r in range(runs):
            finished = now - timedelta(minutes=10 * (runs - r))
            batch.append(
                Run(
                    workflow=workflow,
                    trigger="schedule",
                    status="failure" if r % 37 == 0 else "success",
                    records_in=100,
                    succeeded=98,
                    dead_lettered=2,
                    started_at=finished - timedelta(seconds=30),
                    finished_at=finished,
                    duration_ms=30_000 + (r % 7) * 1000,
                )
            )
        Run.objects.bulk_create(batch, batch_size=2000)
    logs = [
        RequestLog(
            connection=hubspot,
            created_at=now - timedelta(seconds=i),
            method="POST",
            path_template="/crm/v3/objects/{type}/batch/upsert",
            status=200 if i % 50 else 429,
            rate_limit_max=190,
            rate_limit_remaining=100,
        )
        for i in range(requests)
    ]
    RequestLog.objects.bulk_create(logs, batch_size=5000)


def timed(label: str, func, repeat: int = 5) -> float:
    samples = []
    for _ in range(repeat):
        tick = time.perf_counter()
        func()
        samples.append((time.perf_counter() - tick) * 1000)
    median = statistics.median(samples)
    print(f"{label:<34} median {median:8.1f} ms   (min {min(samples):.1f}, max {max(samples):.1f})")
    return median


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workflows", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--per-rule", action="store_true", help="also time each rule's check")
    args = parser.parse_args()
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        settings.ALERT_AUTH_PROBE_SECONDS = 0  # no HTTP in a benchmark
        tick = time.perf_counter()
        seed(args.workflows, args.runs, args.requests)
        alert_rules_defaults_ensure()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:  # what autovacuum does to a live table
                cursor.execute("ANALYZE")
        print(
            f"{connection.vendor}: {args.workflows} workflows × {args.runs} runs, "
            f"{args.requests} request-log rows (seeded in {time.perf_counter() - tick:.1f} s)"
        )
        # The round trip of one trivial query on this machine, to read the others by.
        timed("one trivial query (baseline)", lambda: Workflow.objects.filter(pk=1).exists())
        queries = []

        def evaluate_counted() -> None:
            from django.test.utils import CaptureQueriesContext

            with CaptureQueriesContext(connection) as captured:
                alerts_evaluate()
            queries.append(len(captured.captured_queries))

        timed("alerts evaluate (8 default rules)", evaluate_counted)
        print(f"{'':<34} {queries[-1]} queries per evaluation")
        if args.per_rule:
            from monitoring.checks import rule_findings
            from monitoring.models import AlertRule

            for rule in AlertRule.objects.all():
                timed(f"  {rule.kind}", lambda rule=rule: rule_findings(rule), repeat=3)
        collector = SwitchyardCollector()
        timed("/metrics collect", lambda: list(collector.collect()))

        def home() -> None:
            now = timezone.now()
            workflow_statuses(now=now)
            quality_trends(now=now)
            quotas(now=now)

        timed("operations home figures", home)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
