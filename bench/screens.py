"""Benchmark: the list and detail pages on a big install, cold and warm (PostgreSQL only).

    DATABASE_URL=postgres://... .venv/bin/python bench/screens.py [--records 1000000]
        [--letters 100000] [--runs 1000] [--keep]

Creates a scratch database beside DATABASE_URL's (its name + "_screens_bench"), migrates it,
and seeds it in PostgreSQL itself (INSERT ... SELECT FROM generate_series, seconds instead of
an ORM loop): ``runs`` finished runs, the newest of which hold ``records`` run records in
runs of 100,000 (each record with a CSV row's raw JSON, mapped values and extras), one
``letters``-th of them dead-lettered with their payload and source row. Then each page is
requested through Django's test Client as a logged-in admin, in a fresh Python process:

- cold: the process's first request, on a new database connection after ``DISCARD ALL``
  (PostgreSQL's per-connection catalog and plan caches empty, Django's templates and URLconf
  not loaded yet). The shared PostgreSQL buffers and the OS page cache are NOT dropped: this
  machine's server is shared, and dropping them needs a restart or root. The seeded records
  table is several times PostgreSQL's shared_buffers, so most of it is not in PostgreSQL's
  cache, but it is in the OS cache right after seeding.
- warm: the median of the next five requests of the same page.

Targets: every page under 500 ms warm and under 2 s cold. The scratch database is dropped at
the end unless --keep (then a second run with --reuse skips the seeding).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

WARM_TARGET_MS = 500
COLD_TARGET_MS = 2000
RUN_SIZE = 100_000  # records per big run: one 100k-row import each
WARM_REPEATS = 5


def _scratch_url(url: str) -> str:
    base, _, name = url.rpartition("/")
    name = name.split("?")[0]
    return f"{base}/{name}_screens_bench"


def _admin_sql(url: str, sql: str) -> None:
    """CREATE/DROP DATABASE from the server's maintenance database (never another one)."""
    import psycopg

    base = url.rpartition("/")[0] + "/postgres"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql)


# --- seeding ------------------------------------------------------------------------------------


def _insert_select(model, columns: dict[str, str], series: str) -> None:
    """INSERT INTO model's table SELECT ... FROM generate_series: the given SQL expressions
    (over the series' `g`) for some columns, every other NOT NULL column its Python default."""
    from django.db import connection

    names, exprs, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key and field.column not in columns:
            continue
        if field.column in columns:
            names.append(field.column)
            exprs.append(columns[field.column].replace("%", "%%"))
        elif not field.null:
            default = field.get_default()
            names.append(field.column)
            exprs.append("%s")
            params.append(field.get_db_prep_save(default, connection))
    table = model._meta.db_table
    # Bench-only SQL from fixed text and model metadata, never from input.
    sql = f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(exprs)} FROM {series}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def seed(*, records: int, letters: int, runs: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from integrations.models import Connection
    from pipelines.models import DeadLetter, FieldMappingVersion, Run, RunRecord, Workflow

    get_user_model().objects.create_superuser("bench-admin", "admin@example.com", "x")
    hubspot = Connection.objects.create(name="hubspot-main", provider="hubspot", token="pat-x")
    workflow = Workflow.objects.create(slug="contacts", destination_connection=hubspot)
    version = FieldMappingVersion.objects.create(
        workflow=workflow, version=1, rules=[{"from": "Email", "to": "email", "required": True}]
    )
    big = -(-records // RUN_SIZE)
    small = max(runs - big, 0)
    # Small runs first (older ids), the big imports last: the newest runs are the big ones.
    _insert_select(
        Run,
        {
            "workflow_id": str(workflow.pk),
            "mapping_version_id": str(version.pk),
            "trigger": "'schedule'",
            "status": "'success'",
            "records_in": "100",
            "succeeded": "100",
            "created_at": "now() - (g || ' minutes')::interval",
            "finished_at": "now() - (g || ' minutes')::interval",
            "duration_ms": "30000",
        },
        f"generate_series({small + big}, {big + 1}, -1) AS g",
    )
    per_run = records // big if big else 0
    dead_every = max(records // letters, 1) if letters else 0
    _insert_select(
        Run,
        {
            "workflow_id": str(workflow.pk),
            "mapping_version_id": str(version.pk),
            "trigger": "'csv'",
            "status": "'partial'",
            "input_filename": "'contacts.csv'",
            "records_in": str(per_run),
            "succeeded": str(per_run - (per_run // dead_every if dead_every else 0)),
            "dead_lettered": str(per_run // dead_every if dead_every else 0),
            "created_at": "now() - (g || ' minutes')::interval",
            "finished_at": "now() - (g || ' minutes')::interval",
            "duration_ms": "60000",
        },
        f"generate_series({big}, 1, -1) AS g",
    )
    big_ids = list(Run.objects.order_by("-id").values_list("id", flat=True)[:big])
    first_big = min(big_ids)
    dead = f"(g % {dead_every} = 0)" if dead_every else "false"
    # g runs over every record; run = first_big + g / per_run, position = g % per_run + 1.
    raw = (
        "jsonb_build_object('Email', 'person' || g || '@example.com', 'First Name', 'Ada', "
        "'Last Name', 'Lovelace-' || g, 'Company', 'Acme Analytics ' || (g % 5000), "
        "'Job Title', 'VP Marketing', 'Phone', '+1 415 555 ' || lpad((g % 10000)::text, 4, '0'), "
        "'City', 'San Francisco', 'Notes', repeat('x', 120))"
    )
    _insert_select(
        RunRecord,
        {
            "run_id": f"{first_big} + g / {per_run}",
            "position": f"g % {per_run} + 1",
            "source": "'csv'",
            "row_number": f"g % {per_run} + 2",
            "raw": raw,
            "values": "jsonb_build_object('email', 'person' || g || '@example.com', "
            "'firstname', 'Ada', 'company', 'Acme Analytics')",
            "extras": "jsonb_build_object('Notes', repeat('x', 120))",
            "errors": f'CASE WHEN {dead} THEN \'[{{"source": "Email", "target": "email", '
            '"code": "invalid", "message": "not an address"}]\'::jsonb '
            "ELSE '[]'::jsonb END",
            "match_key": "'person' || g || '@example.com'",
            "state": f"CASE WHEN {dead} THEN 'dead_lettered' ELSE 'loaded' END",
            "hubspot_id": f"CASE WHEN {dead} THEN '' ELSE (1000000 + g)::text END",
            "created_at": "now()",
            "updated_at": "now()",
        },
        f"generate_series(0, {per_run * big - 1}) AS g",
    )
    if letters:
        reasons = "(ARRAY['email: not an address', 'email: required', 'company: too long'])"
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {DeadLetter._meta.db_table}
                  (run_id, record_id, workflow_id, stage, category, errors, reason, identity,
                   payload, source_row, attempts, created_at, resolution, resolution_note)
                SELECT r.run_id, r.id, %s, 'transform',
                       CASE WHEN r.position %% 7 = 0 THEN 'retries_exhausted' ELSE 'validation' END,
                       '["email: not an address"]'::jsonb, {reasons}[1 + r.position %% 3],
                       r.match_key,
                       r.values, r.raw, 0, now(),
                       CASE WHEN r.position %% 4 = 0 THEN 'ignored' ELSE '' END, ''
                FROM {RunRecord._meta.db_table} r WHERE r.state = 'dead_lettered'
                ORDER BY r.id LIMIT %s
                """,  # noqa: S608 (bench-only, fixed text)
                [workflow.pk, letters],
            )
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")  # what autovacuum does to a live table


def _sizes() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pipelines_runrecord UNION ALL "
            "SELECT count(*) FROM pipelines_deadletter UNION ALL SELECT count(*) FROM pipelines_run"
        )
        counts = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT pg_total_relation_size('pipelines_runrecord') / 1048576")
        megabytes = cursor.fetchone()[0]
    return {"records": counts[0], "letters": counts[1], "runs": counts[2], "records_mb": megabytes}


def pages() -> list[tuple[str, str]]:
    """The pages measured, as (label, path), read from the seeded data."""
    from django.urls import reverse

    from pipelines.models import DeadLetter, Run, RunRecord

    run = Run.objects.filter(trigger="csv").order_by("-id").first()
    letter = DeadLetter.objects.order_by("-id").first()
    middle = DeadLetter.objects.order_by("id").values_list("id", flat=True)[
        DeadLetter.objects.count() // 2
    ]
    record = RunRecord.objects.filter(run=run).order_by("-position").first()
    queue = reverse("switchyard:dead-letters")
    run_url = reverse("switchyard:run", args=[run.pk])
    return [
        ("dead-letter queue (open, first page)", queue),
        ("dead-letter queue (all, deep page)", f"{queue}?status=all&before={middle}"),
        ("dead-letter queue (category filter)", f"{queue}?category=retries_exhausted"),
        ("dead-letter queue (search an email)", f"{queue}?{urlencode({'q': letter.identity})}"),
        # The start of an address: a handful of letters match (11 at the full size).
        ("dead-letter queue (search part of one)", f"{queue}?q={letter.identity[:10]}"),
        # Words of one of the errors: a third of the letters match.
        ("dead-letter queue (search error text)", f"{queue}?{urlencode({'q': 'too long'})}"),
        ("runs list", reverse("switchyard:runs")),
        ("runs list (partial runs)", reverse("switchyard:runs") + "?status=partial"),
        ("run detail (100k records)", run_url),
        ("run records page (deep)", f"{run_url}?before={record.position - 200}"),
        ("run records page (dead-lettered)", f"{run_url}?state=dead_lettered&before=50000"),
        ("record lineage", reverse("switchyard:run-record", args=[run.pk, record.pk])),
        ("dead letter detail", reverse("switchyard:dead-letter", args=[letter.pk])),
    ]


# --- measuring (in a fresh process per page) ----------------------------------------------------


def measure(path: str) -> dict[str, float]:
    """The first request (cold) and the median of the next few (warm) of one page."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench-admin"))
    connection.close()
    with connection.cursor() as cursor:  # a new connection, its session state discarded
        cursor.execute("DISCARD ALL")
    samples, queries = [], 0
    for attempt in range(1 + WARM_REPEATS):
        with CaptureQueriesContext(connection) as captured:
            tick = time.perf_counter()
            response = client.get(path)
            samples.append((time.perf_counter() - tick) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{path}: HTTP {response.status_code}")
        if attempt == 0:
            queries = len(captured.captured_queries)
    return {"cold": samples[0], "warm": statistics.median(samples[1:]), "queries": queries}


def _measure_in_fresh_process(url: str, path: str) -> dict[str, float]:
    env = {**os.environ, "DATABASE_URL": url, "DB_CONN_MAX_AGE": "0"}
    out = subprocess.run(
        [sys.executable, __file__, "--measure", path],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if out.returncode:
        raise SystemExit(f"{path}: measuring failed\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(url: str, listed: list[tuple[str, str]]) -> bool:
    print(f"{'page':<40} {'cold ms':>9} {'warm ms':>9} {'queries':>8}  target")
    ok = True
    for label, path in listed:
        got = _measure_in_fresh_process(url, path)
        fine = got["warm"] < WARM_TARGET_MS and got["cold"] < COLD_TARGET_MS
        ok = ok and fine
        print(
            f"{label:<40} {got['cold']:9.1f} {got['warm']:9.1f} {got['queries']:8d}  "
            f"{'ok' if fine else 'MISSED'} (<{COLD_TARGET_MS} cold, <{WARM_TARGET_MS} warm)"
        )
    return ok


def prepare(*, records: int, letters: int, runs: int, reuse: bool) -> list[tuple[str, str]]:
    """In the scratch database (this process's DATABASE_URL): migrate, seed, list the pages."""
    from django.core.management import call_command

    if not reuse:
        tick = time.perf_counter()
        call_command("migrate", verbosity=0)
        migrated = time.perf_counter()
        seed(records=records, letters=letters, runs=runs)
        print(
            f"migrated in {migrated - tick:.0f} s, seeded in {time.perf_counter() - migrated:.0f} s",
            file=sys.stderr,
        )
    sizes = _sizes()
    print(
        f"postgresql: {sizes['records']:,} run records ({sizes['records_mb']:,} MB with indexes), "
        f"{sizes['letters']:,} dead letters, {sizes['runs']:,} runs",
        file=sys.stderr,
    )
    return pages()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--letters", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--reuse", action="store_true", help="measure a kept database again")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure or args.prepare:  # a child process, on the scratch database
        import django

        django.setup()
        if args.measure:
            from django.conf import settings

            settings.ALLOWED_HOSTS = ["*"]
            print(json.dumps(measure(args.measure)))
        else:
            listed = prepare(
                records=args.records, letters=args.letters, runs=args.runs, reuse=args.reuse
            )
            print(json.dumps(listed))
        return 0
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        print("bench/screens.py skipped: needs DATABASE_URL=postgres://... (seeds with SQL)")
        return 0
    scratch = _scratch_url(url)
    name = scratch.rpartition("/")[2]
    env = {**os.environ, "DATABASE_URL": scratch}
    if not args.reuse:
        _admin_sql(url, f'DROP DATABASE IF EXISTS "{name}"')
        _admin_sql(url, f'CREATE DATABASE "{name}"')
    try:
        prepared = subprocess.run(
            [sys.executable, __file__, "--prepare", *sys.argv[1:]],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        sys.stderr.write(prepared.stderr)
        if prepared.returncode:
            return prepared.returncode
        listed = json.loads(prepared.stdout.strip().splitlines()[-1])
        print(f"database {name}: {prepared.stderr.strip().splitlines()[-1]}")
        return 0 if report(scratch, listed) else 1
    finally:
        if not args.keep:
            _admin_sql(url, f'DROP DATABASE IF EXISTS "{name}"')


if __name__ == "__main__":
    sys.exit(main())
