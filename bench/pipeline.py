"""Benchmark: a generated Clay CSV through the whole Clay → HubSpot contact pipeline.

    .venv/bin/python bench/pipeline.py [--rows 100000] [--threads 8] [--stage-processes 2] [--skip-million]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sy_bench .venv/bin/python bench/pipeline.py

What runs, against a throwaway test database (PostgreSQL when DATABASE_URL is set, so the
COPY staging path is measured; SQLite otherwise):

1. stage + transform: run_create_csv, then what the workers do: plan the file into chunks,
   stage the chunks (with lineage: map, normalize, validate; --stage-processes forked
   stand-ins for worker processes, one per core by default), then dedupe, dead-letter the
   invalid and split into batches. Target >= 20,000 rows/s. The same file staged by one
   process is printed beside it.
2. load: the batches into the HubSpot sandbox served on a loopback port (threaded wsgiref),
   set to 190 requests per 10 s and 150 ms per call. The core loads one batch per Celery
   task; here N loader threads stand in for N worker processes, each calling the core's
   batch_process (batches are leased in the database, so concurrent loaders never send one
   twice). 150 ms x 19 calls/s needs >= 3 in flight (Little's law). The ceiling is
   190 calls / 10 s x 100 records = 1,900 records/s; target >= 85 % of it.
3. peak memory of staging a 1,000,000-row file, measured in a fresh subprocess
   (ru_maxrss, so the loaded Django app is included). Target < 300 MB. --skip-million skips it.
4. baselines on the same data: django-import-export importing the file into a staging model
   (RunRecord, use_bulk + force_init_instance + skip_diff, its fastest documented options),
   and the one-request-per-record pattern (search by email, then create or update) against
   the same sandbox on a sample, extrapolated.
"""

from __future__ import annotations

import argparse
import csv
import io
import multiprocessing
import os
import queue
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import faulthandler

import django

if os.environ.get("BENCH_DEBUG"):
    faulthandler.dump_traceback_later(int(os.environ["BENCH_DEBUG"]), exit=True)

django.setup()

import httpx  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import OperationalError, connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from integrations.models import Connection, RequestLog  # noqa: E402
from integrations.ratelimit import RateLimitSpec, SharedRateLimit  # noqa: E402
from pipelines.models import FieldMappingVersion, Run, RunBatch, RunChunk, Workflow  # noqa: E402
from pipelines.samples import CLAY_CONTACTS_MAPPING  # noqa: E402
from pipelines.selectors import run_batches_open  # noqa: E402
from pipelines.services.chunks import run_chunk_stage  # noqa: E402
from pipelines.services.loading import batch_process  # noqa: E402
from pipelines.services.runs import run_prepare  # noqa: E402
from pipelines.services.staging import csv_run_plan, run_create_csv  # noqa: E402
from sandbox.hubspot import HubSpotSandbox, serve  # noqa: E402

TOKEN = "pat-na1-00000000-bench-0000-000000000000"
RATE, WINDOW, LATENCY_MS, BATCH = 190, 10, 150, 100
CEILING = RATE / WINDOW * BATCH  # records per second the portal's limit allows
HEADERS = [
    "Email",
    "First Name",
    "Last Name",
    "Company Name",
    "Job Title",
    "Phone",
    "Country",
    "Website",
    "LinkedIn URL",
    "Clay Enrichment Score",
]
RULES = CLAY_CONTACTS_MAPPING
COUNTRIES = [
    ("United States", "+1 650 253 {:04d}"),
    ("United Kingdom", "020 7946 {:04d}"),
    ("Germany", "+49 30 9018{:04d}"),
    ("France", ""),
]


def clay_csv_write(path: Path, rows: int) -> None:
    """A Clay-like export: unique emails, one in 1,000 invalid (dead-lettered), real phone
    formats per country, an unmapped enrichment column kept with each record."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        for n in range(rows):
            country, phone = COUNTRIES[n % len(COUNTRIES)]
            email = (
                f"person{n}(at)acme{n % 500}.com"
                if n % 1000 == 999
                else f"person{n}@acme{n % 500}.com"
            )
            writer.writerow(
                [
                    email,
                    f"first{n}",
                    f"LAST{n}",
                    f"Acme {n % 500}",
                    "VP Marketing",
                    phone.format(n % 10000),
                    country,
                    f"www.acme{n % 500}.com",
                    f"linkedin.com/in/person-{n}",
                    str(n % 100),
                ]
            )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def sandbox_serve(port: int) -> None:
    app = HubSpotSandbox(
        rate_limit=RATE,
        window_seconds=WINDOW,
        latency_ms=LATENCY_MS,
        daily_limit=None,
        tokens={TOKEN},
    )
    _, thread = serve(app, "127.0.0.1", port)
    thread.join()


def sandbox_wait(base: str) -> None:
    for _ in range(100):
        try:
            httpx.get(f"{base}/__sandbox__/state").raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    sys.exit("the sandbox did not start")


def workflow_create(base_url: str, suffix: str = "") -> Workflow:
    hubspot = Connection.objects.create(
        name=f"hubspot-bench{suffix}",
        provider="hubspot",
        auth_type="private_app",
        base_url=base_url,
        token=TOKEN,
        rate_limit_requests=RATE,
        rate_limit_seconds=WINDOW,
        max_attempts=3,
    )
    workflow = Workflow.objects.create(slug=f"clay-bench{suffix}", destination_connection=hubspot)
    FieldMappingVersion.objects.create(workflow=workflow, version=1, rules=RULES)
    return workflow


def stage_and_transform(workflow: Workflow, path: Path, processes: int = 1) -> tuple[Run, float]:
    """The timed part is what the workers do for a CSV run: plan the file into chunks, stage
    the chunks (``processes`` forked stand-ins for worker processes, as Celery's prefork pool
    runs them), then dedupe, dead-letter the invalid and cut the load batches."""
    with path.open("rb") as handle:
        run = run_create_csv(
            workflow=workflow, file=handle, filename=path.name, actor_label="bench", dispatch=False
        )
    started = time.perf_counter()
    csv_run_plan(run_id=run.pk)
    chunk_ids = list(
        RunChunk.objects.filter(run=run).order_by("sequence").values_list("pk", flat=True)
    )
    if processes > 1 and len(chunk_ids) > 1:
        connection.close()  # children open their own; a forked socket must not be shared
        context = multiprocessing.get_context("fork")
        todo = context.Queue()
        for chunk_id in [*chunk_ids, *[None] * processes]:  # one "no more" for each process
            todo.put(chunk_id)
        children = [context.Process(target=chunks_stage, args=(todo,)) for _ in range(processes)]
        for child in children:
            child.start()
        for child in children:
            child.join()
        assert all(child.exitcode == 0 for child in children), [
            child.exitcode for child in children
        ]
    run = run_prepare(run_id=run.pk, dispatch=False)  # stages what is left here, then the rest
    return run, time.perf_counter() - started


def chunks_stage(todo: multiprocessing.Queue) -> None:
    """A worker stand-in: stage chunks until none is left (run_chunk_stage_task's service)."""
    try:
        while (chunk_id := todo.get()) is not None:
            run_chunk_stage(chunk_id=chunk_id)
    finally:
        connection.close()


def load(run: Run, processes: int, threads: int) -> float:
    """``processes`` loader processes (Celery workers' stand-ins) of ``threads`` each. Several
    processes because one Python process is bound by its GIL well below the portal's rate;
    they share the portal's limit through Redis (REDIS_URL), as workers do."""
    connection.close()  # children open their own; a forked socket must not be shared
    started = time.perf_counter()
    context = multiprocessing.get_context("fork")
    children = [
        context.Process(target=load_partition, args=(run.pk, n, processes, threads))
        for n in range(processes)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join()
    return time.perf_counter() - started


def load_partition(run_id: int, index: int, count: int, threads: int) -> None:
    """Load this process's share of the batches. A batch the core hands back for later
    (retry countdown) goes back in the queue at its time."""
    todo: queue.Queue[int] = queue.Queue()
    for batch_id, sequence in RunBatch.objects.filter(run_id=run_id).values_list("pk", "sequence"):
        if sequence % count == index:
            todo.put(batch_id)
    mine = run_batches_open(run_id=run_id)

    def loader() -> None:
        try:
            while True:
                try:
                    batch_id = todo.get_nowait()
                except queue.Empty:
                    if not [
                        b for b in mine.values_list("sequence", flat=True) if b % count == index
                    ]:
                        return
                    time.sleep(0.2)
                    continue
                try:
                    outcome = batch_process(batch_id=batch_id)
                except OperationalError:  # SQLite busy beyond its timeout: try the batch again
                    connection.close()
                    todo.put(batch_id)
                    continue
                if outcome.retry_in is not None:
                    threading.Timer(outcome.retry_in, todo.put, args=(batch_id,)).start()
        finally:
            connection.close()

    # limits' first Redis storage is not thread-safe to create (its lazy dependency check
    # races and reports redis "0.0.0"): create it once before the threads start.
    SharedRateLimit(
        settings.REDIS_URL or None, RateLimitSpec(RATE, WINDOW), "switchyard:bench:warm-up"
    )
    workers = [threading.Thread(target=loader, name=f"loader-{index}-{n}") for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def baseline_import_export(workflow: Workflow, path: Path, rows: int) -> float:
    """django-import-export into RunRecord (raw row as JSON), its fastest documented setup."""
    import tablib
    from django.utils import timezone
    from import_export import resources

    from pipelines.models import RecordSource, RunRecord

    run = Run.objects.create(
        workflow=workflow, trigger="csv", triggered_by_label="bench import-export"
    )
    now = timezone.now()
    counter = iter(range(1, rows + 1))

    class StagingResource(resources.ModelResource):
        class Meta:
            model = RunRecord
            fields = ()
            import_id_fields = ()
            use_bulk = True
            batch_size = 1000
            force_init_instance = True
            skip_diff = True

        def init_instance(self, row=None):
            position = next(counter)
            return RunRecord(
                run=run,
                position=position,
                source=RecordSource.CSV,
                row_number=position + 1,
                raw=dict(row),
                created_at=now,
                updated_at=now,
            )

    text = "".join(
        line for _, line in zip(range(rows + 1), path.open(encoding="utf-8"), strict=False)
    )
    started = time.perf_counter()
    dataset = tablib.Dataset().load(io.StringIO(text), format="csv")
    result = StagingResource().import_data(dataset, dry_run=False, raise_errors=True)
    elapsed = time.perf_counter() - started
    assert not result.has_errors()
    assert RunRecord.objects.filter(run=run).count() == rows
    return rows / elapsed


def baseline_per_record(workflow: Workflow, path: Path, sample: int) -> float:
    """Search by email, then create or update: two calls per record, one record at a time."""
    from integrations.registry import client_for

    with path.open(encoding="utf-8") as handle:
        rows = [row for _, row in zip(range(sample), csv.DictReader(handle), strict=False)]
    started = time.perf_counter()
    with client_for(workflow.destination_connection) as client:
        for row in rows:
            email = row["Email"].replace("(at)", "@").lower()
            props = {
                "email": email,
                "firstname": row["First Name"].title(),
                "lastname": row["Last Name"].title(),
                "company": row["Company Name"],
                "jobtitle": row["Job Title"],
            }
            found = list(
                client.search(
                    "contacts",
                    filter_groups=[
                        {"filters": [{"propertyName": "email", "operator": "EQ", "value": email}]}
                    ],
                    limit=1,
                )
            )
            if found:
                client.http.request(
                    "PATCH",
                    "/crm/v3/objects/contacts/{id}",
                    path_params={"id": found[0]["id"]},
                    json={"properties": props},
                )
            else:
                client.http.request("POST", "/crm/v3/objects/contacts", json={"properties": props})
    return sample / (time.perf_counter() - started)


def million_peak_mb(rows: int) -> float:
    """Stage a generated file in a fresh process; its peak RSS is the figure."""
    env = {**os.environ, "BENCH_MILLION_CHILD": str(rows)}
    done = subprocess.run(
        [sys.executable, __file__], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.exit(f"1M-row staging failed:\n{done.stdout}\n{done.stderr}")
    return float(done.stdout.strip().splitlines()[-1])


def million_child(rows: int, base: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "million.csv"
        clay_csv_write(path, rows)
        workflow = workflow_create(base)
        run, _ = stage_and_transform(workflow, path)
        assert run.records_in == rows, run.records_in
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def database_create(suffix: str = "") -> str:
    """A throwaway database; SQLite gets a file in WAL mode so loader threads can share it."""
    setup_test_environment()
    if connection.vendor == "sqlite":
        connection.settings_dict["TEST"]["NAME"] = str(
            Path(tempfile.gettempdir()) / f"sy_bench{suffix}.sqlite3"
        )
        # Writers take the lock when they begin, so concurrent loaders queue on the busy
        # timeout instead of failing a read-to-write upgrade with "database is locked".
        connection.settings_dict["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
    elif suffix:
        connection.settings_dict["TEST"]["NAME"] = (
            f"test_{connection.settings_dict['NAME']}{suffix}"
        )
    return connection.creation.create_test_db(verbosity=0, autoclobber=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--processes",
        type=int,
        default=None,
        help="loader processes (default 4 with REDIS_URL for the shared limit, else 1)",
    )
    parser.add_argument("--threads", type=int, default=4, help="loader threads per process")
    parser.add_argument(
        "--stage-processes",
        type=int,
        default=os.cpu_count() or 1,
        help="worker stand-ins staging chunks in parallel (default: one per core)",
    )
    parser.add_argument("--per-record-sample", type=int, default=100)
    parser.add_argument("--import-export-rows", type=int, default=20_000)
    parser.add_argument("--skip-million", action="store_true")
    args = parser.parse_args()
    if args.processes is None:
        # Without Redis each process would enforce the portal's whole limit on its own.
        args.processes = 4 if settings.REDIS_URL else 1

    port = free_port()
    # Its own process: a sandbox sharing our GIL would slow the loaders it is measuring.
    sandbox = multiprocessing.get_context("spawn").Process(
        target=sandbox_serve, args=(port,), daemon=True
    )
    sandbox.start()
    base = f"http://127.0.0.1:{port}"
    sandbox_wait(base)
    old_name = database_create()
    settings.MEDIA_ROOT = tempfile.mkdtemp(prefix="sy-bench-media-")
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "clay.csv"
            clay_csv_write(path, args.rows)
            workflow = workflow_create(base)

            # The same file staged by one worker process first: the baseline for the parallel figure.
            _, single_s = stage_and_transform(workflow_create(base, "-single"), path, 1)
            run, prepare_s = stage_and_transform(workflow, path, args.stage_processes)
            load_s = load(run, args.processes, args.threads)
            statuses = Counter(
                RequestLog.objects.filter(path_template__contains="batch/upsert").values_list(
                    "status", flat=True
                )
            )
            run.refresh_from_db()
            loaded = run.succeeded
            staging_rate = args.rows / prepare_s
            load_rate = loaded / load_s
            assert run.is_finished, run
            assert run.records_in == run.succeeded + run.dead_lettered + run.skipped, run

            # Same portal limits, empty window: the baseline gets the same ceiling.
            httpx.post(f"{base}/__sandbox__/reset").raise_for_status()
            per_record_rate = baseline_per_record(workflow, path, args.per_record_sample)
            ie_rows = min(args.rows, args.import_export_rows)
            ie_rate = baseline_import_export(workflow, path, ie_rows)
        peak = None if args.skip_million else million_peak_mb(1_000_000)

        ours_total = args.rows / (prepare_s + load_s)
        print(
            f"database                 {connection.vendor}, {args.rows:,} rows, {args.processes} loader processes x {args.threads} threads"
        )
        print(
            f"run {run.pk}                    {run.status}: {run.succeeded:,} loaded, {run.dead_lettered:,} dead-lettered, "
            f"{run.skipped:,} skipped; timings {run.timings}"
        )
        print(
            f"stage + transform        {prepare_s:.1f} s = {staging_rate:,.0f} rows/s with {args.stage_processes} "
            f"worker processes   (target >= 20,000); one process alone: {args.rows / single_s:,.0f} rows/s "
            f"({single_s / prepare_s:.2f}x faster with {args.stage_processes})"
        )
        print(
            f"load                     {load_s:.1f} s = {load_rate:,.0f} rows/s = {load_rate / CEILING:.0%} of the "
            f"{CEILING:,.0f}/s ceiling   (target >= 85 %)"
        )
        print(
            f"HubSpot batch calls      {sum(statuses.values()):,} ({', '.join(f'{n:,} x {c}' for c, n in sorted(statuses.items()))})"
        )
        print(f"end to end               {prepare_s + load_s:.1f} s = {ours_total:,.0f} rows/s")
        if peak is not None:
            print(f"1M-row staging peak RSS  {peak:,.0f} MB   (target < 300 MB)")
        print(
            f"import-export baseline   {ie_rate:,.0f} rows/s staging only ({ie_rows:,} rows); "
            f"ours (with transform) / theirs = {staging_rate / ie_rate:.1f}x"
        )
        print(
            f"per-record baseline      {per_record_rate:,.1f} rows/s ({args.per_record_sample} rows, search + create/update); "
            f"{args.rows:,} rows would take {args.rows / per_record_rate / 3600:.1f} h; "
            f"ours / theirs = {load_rate / per_record_rate:,.0f}x on load, {ours_total / per_record_rate:,.0f}x end to end"
        )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)
        sandbox.terminate()


if __name__ == "__main__":
    if os.environ.get("BENCH_MILLION_CHILD"):
        old = database_create("_million")
        settings.MEDIA_ROOT = tempfile.mkdtemp(prefix="sy-bench-million-")
        try:
            # Staging calls no provider: the connection only has to exist.
            million_child(int(os.environ["BENCH_MILLION_CHILD"]), "http://127.0.0.1:9")
        finally:
            connection.creation.destroy_test_db(old, verbosity=0)
            shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)
    else:
        main()
