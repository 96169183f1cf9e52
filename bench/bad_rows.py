"""Benchmark: what a bad row costs in HubSpot calls, by how HubSpot answers an email upsert.

    .venv/bin/python bench/bad_rows.py [--rows 1000] [--bad 1,5,20]

HubSpot's references disagree on whether a batch upsert by email may partly succeed
(docs/connections.md, "Batch upsert by email"), so the loader handles three answers and the
HubSpot sandbox can give each:

- 207 per input (``per_input_207_with_trace_id``): the bad rows are named, the rest written
  in the same call: no extra call;
- a whole-batch 400 naming the bad values (the sandbox's default for email upserts): the
  named rows are dead-lettered and the rest resent: one extra call per rejected batch;
- a whole-batch 400 naming nobody (a value over the 65,536-character limit): the batch is
  bisected until the bad rows are alone, about 2·log2(100) ≈ 14 extra calls per bad row.

Rows carry a lifecycle stage HubSpot refuses (or, for the last case, a 70,000-character job
title): values the transform cannot catch. The figure is extra upsert calls per bad row over
a clean run of the same file. In-process (the sandbox behind httpx.WSGITransport) against a
throwaway test database: calls, not time, are measured.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

import httpx  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from integrations import registry  # noqa: E402
from integrations.models import Connection  # noqa: E402
from integrations.services import connection_save  # noqa: E402
from pipelines.models import Workflow  # noqa: E402
from pipelines.services.mappings import field_mapping_version_create  # noqa: E402
from pipelines.services.runs import run_execute_inline  # noqa: E402
from pipelines.services.staging import run_create_csv  # noqa: E402
from sandbox.hubspot import HubSpotSandbox  # noqa: E402

RULES = [
    {"from": "Email", "to": "email", "transforms": ["strip", "lower"], "required": True},
    {"from": "Job Title", "to": "jobtitle", "transforms": []},
    {"from": "Stage", "to": "lifecyclestage", "transforms": []},
]
MODES = {
    "207 per input": ("per_input_207_with_trace_id", "stage"),
    "400 naming the values (default)": ("auto", "stage"),
    "400 naming nobody": ("whole_batch_400", "title"),
}


def csv_file(rows: int, bad: set[int], how: str, tag: str) -> bytes:
    out = io.StringIO()
    out.write("Email,Job Title,Stage\n")
    for i in range(rows):
        title = "x" * 70_000 if i in bad and how == "title" else "VP Marketing"
        stage = "Bogus" if i in bad and how == "stage" else "lead"
        out.write(f"{tag}{i}@acme-analytics.com,{title},{stage}\n")
    return out.getvalue().encode()


def upsert_calls(app: HubSpotSandbox) -> int:
    return sum(1 for m, p, *_ in app.request_log if m == "POST" and p.endswith("/batch/upsert"))


def run_file(workflow: Workflow, app: HubSpotSandbox, data: bytes) -> tuple[int, int]:
    before = upsert_calls(app)
    run = run_create_csv(
        workflow=workflow, file=io.BytesIO(data), filename="bench.csv", dispatch=False
    )
    run = run_execute_inline(run_id=run.pk, honour_backoff=False)
    return upsert_calls(app) - before, run.dead_lettered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--bad", default="1,5,20")
    args = parser.parse_args()
    counts = [int(n) for n in args.bad.split(",")]
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        hubspot = connection_save(
            connection=Connection(
                name="hubspot-bench", provider="hubspot", base_url="http://sandbox.bench"
            ),
            secrets={"token": "pat-na1-bench-token-0000000000"},
        )
        clay = connection_save(
            connection=Connection(name="clay-bench", provider="clay", auth_type="header_token"),
            secrets={"token": "bench-clay-secret-0000000000"},
        )
        workflow = Workflow.objects.create(
            slug="bad-rows", source_connection=clay, destination_connection=hubspot
        )
        field_mapping_version_create(workflow=workflow, rules=RULES, actor_label="bench")
        print(f"Extra HubSpot upsert calls per bad row, {args.rows} rows (batches of 100)")
        for label, (mode, how) in MODES.items():
            app = HubSpotSandbox(rate_limit=10**9, daily_limit=None, batch_error_mode=mode)
            registry.TRANSPORT_OVERRIDES["hubspot"] = httpx.WSGITransport(app=app)
            clean, _ = run_file(workflow, app, csv_file(args.rows, set(), how, f"{mode}-clean-"))
            figures = []
            for n in counts:
                bad = {round(i * args.rows / n) + 3 for i in range(n)}
                calls, letters = run_file(
                    workflow, app, csv_file(args.rows, bad, how, f"{mode}-{n}-")
                )
                assert letters == len(bad), (label, letters, len(bad))
                figures.append(f"{n:>3} bad: {calls:>4} calls, {(calls - clean) / n:5.1f}/bad row")
            print(f"  {label:33s} clean {clean:>3} calls | " + " | ".join(figures))
    finally:
        registry.TRANSPORT_OVERRIDES.pop("hubspot", None)
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
