"""Soak benchmark (docs/reference/reliability.md#fault-tests, F15): a Clay import through real Celery workers
while HubSpot misbehaves and worker processes die, against the same import without faults.

    DATABASE_URL=postgres://… REDIS_URL=redis://… .venv/bin/python bench/soak.py [--rows 100000]

Two runs of the same generated file, each into its own HubSpot sandbox process (190 requests /
10 s, 150 ms a call) through one `celery worker` started as docs/operations.md says (or with
--concurrency processes):

1. calm: no faults;
2. soak: 5 % of calls answered 429 and 2 % answered 500, and one pool process of the worker
   SIGKILLed every --kill-every seconds (Celery replaces it; its batch is recovered by the
   lease and the sweeper, which this script runs every 30 s as beat would).

Printed: each run's time and rows/s, the soak's share of the calm throughput (target >= 70 %),
and the invariants of docs/reference/reliability.md#invariants checked on the soak run: conservation (records in = succeeded +
dead-lettered + skipped, records in counted from the file), every record in exactly one
terminal state, destination truth (every valid email in HubSpot exactly once, nothing else),
dead letters explainable (stage, category, message, attempts; the file's invalid rows), and
the rate law (no 10 s window of the sandbox's request log above the limit). Exit status 1 if
an invariant fails. Needs PostgreSQL (COPY staging, row locks) and Redis (broker, shared limit).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/pipeline.py: shared set-up

import httpx
import pipeline
from django.conf import settings
from django.db import connection

from config.celery import app
from pipelines.models import DeadLetter, Run, RunRecord
from pipelines.models.runs import TERMINAL_STATES
from pipelines.services.staging import run_create_csv
from pipelines.services.sweepers import batches_sweep, chunks_sweep, runs_sweep

ROOT = Path(__file__).resolve().parent.parent
SWEEP_EVERY = 10  # the beat schedule of pipelines.batches_sweep and chunks_sweep


def sandbox_start(port: int, faults: dict[str, float]) -> subprocess.Popen:
    args = [
        sys.executable,
        "-m",
        "sandbox.hubspot",
        "--port",
        str(port),
        "--rate-limit",
        str(pipeline.RATE),
        "--window-seconds",
        str(pipeline.WINDOW),
        "--latency-ms",
        str(pipeline.LATENCY_MS),
        "--daily-limit",
        "0",
        "--seed",
        "7",
        "--token",
        pipeline.TOKEN,
    ]
    for kind, rate in faults.items():
        args += [f"--fault-{kind}", str(rate)]
    process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pipeline.sandbox_wait(f"http://127.0.0.1:{port}")
    return process


def worker_start(concurrency: int, media_root: str) -> subprocess.Popen:
    params = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "MEDIA_ROOT": media_root,
        "DATABASE_URL": f"postgres://{params['USER']}@{params['HOST']}:{params['PORT']}/{params['NAME']}",
        "PIPELINE_LOAD_THREADS": "8",  # the production default (test settings use 1)
    }
    # Without --concurrency: the worker's own default, as docs/operations.md starts it.
    pool = ["-c", str(concurrency)] if concurrency else []
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            *pool,
            "-P",
            "prefork",
            "-n",
            f"soak-{os.getpid()}@%h",
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


def pool_children(worker: subprocess.Popen) -> list[int]:
    """The worker's pool processes (Linux: /proc/<pid>/task/<pid>/children)."""
    try:
        text = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text()
    except OSError:
        return []
    return [int(pid) for pid in text.split()]


def run_until_finished(run: Run, *, kill_every: float | None, worker: subprocess.Popen) -> int:
    """Dispatch is done; sweep every 10 s as beat would, and kill a pool child every
    ``kill_every`` seconds. Returns how many pool processes were killed."""
    started = time.monotonic()
    last_sweep = last_kill = started
    killed = 0
    chooser = random.Random(11)
    while True:
        time.sleep(0.5)
        now = time.monotonic()
        run.refresh_from_db()
        if run.is_finished:
            return killed
        if now - last_sweep >= SWEEP_EVERY:
            batches_sweep()
            chunks_sweep()
            runs_sweep()
            last_sweep = now
        if kill_every and now - last_kill >= kill_every and (children := pool_children(worker)):
            os.kill(chooser.choice(children), signal.SIGKILL)
            killed += 1
            last_kill = now
        if now - started > 3600:
            sys.exit(f"run {run.pk} did not finish within an hour: {run.status}")


def one_run(
    label: str,
    path: Path,
    rows: int,
    faults: dict[str, float],
    kill_every: float | None,
    concurrency: int,
    media_root: str,
) -> dict:
    port = pipeline.free_port()
    sandbox = sandbox_start(port, faults)
    base = f"http://127.0.0.1:{port}"
    workflow = pipeline.workflow_create(base, f"-{label}")
    worker = worker_start(concurrency, media_root)
    try:
        time.sleep(3)  # the worker connects to the broker
        started = time.monotonic()
        with path.open("rb") as handle:
            # Autocommit here: the run's prepare task is published at once, as from the wizard.
            run = run_create_csv(
                workflow=workflow, file=handle, filename=path.name, actor_label=f"soak {label}"
            )
        killed = run_until_finished(run, kill_every=kill_every, worker=worker)
        seconds = time.monotonic() - started
        state = httpx.get(f"{base}/__sandbox__/state", timeout=30).json()
        log = httpx.get(f"{base}/__sandbox__/log", timeout=120).json()["results"]
        contacts = httpx.get(f"{base}/__sandbox__/objects/contacts", timeout=120).json()["results"]
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        sandbox.terminate()
    run.refresh_from_db()
    return {
        "label": label,
        "run": run,
        "workflow": workflow,
        "seconds": seconds,
        "rate": rows / seconds,
        "killed": killed,
        "state": state,
        "log": log,
        "contacts": contacts,
    }


def invariants(result: dict, path: Path) -> list[tuple[str, bool, str]]:
    """The invariants (docs/reference/reliability.md#invariants) checked on one run; (name,
    passed, detail)."""
    import csv

    run: Run = result["run"]
    with path.open(newline="", encoding="utf-8") as handle:
        source = list(csv.DictReader(handle))
    valid = {row["Email"].lower() for row in source if "@" in row["Email"]}
    invalid_rows = {number for number, row in enumerate(source, start=2) if "@" not in row["Email"]}
    checks = []
    in_file = len(source)
    checks.append(
        (
            "conservation",
            run.records_in == in_file == run.succeeded + run.dead_lettered + run.skipped,
            f"file {in_file:,}, records in {run.records_in:,} = {run.succeeded:,} succeeded + "
            f"{run.dead_lettered:,} dead-lettered + {run.skipped:,} skipped",
        )
    )
    states = Counter(RunRecord.objects.filter(run=run).values_list("state", flat=True))
    not_terminal = sum(n for s, n in states.items() if s not in TERMINAL_STATES)
    checks.append(
        (
            "one terminal state each",
            not_terminal == 0 and sum(states.values()) == in_file,
            ", ".join(f"{n:,} {s}" for s, n in sorted(states.items())),
        )
    )
    emails = Counter(str(c["properties"].get("email", "")).lower() for c in result["contacts"])
    twice = [e for e, n in emails.items() if n > 1]
    checks.append(
        (
            "destination truth",
            set(emails) == valid and not twice,
            f"{len(emails):,} distinct emails in HubSpot, {len(valid):,} valid in the file, "
            f"{len(twice)} present twice",
        )
    )
    letters = DeadLetter.objects.filter(run=run)
    unexplained = letters.filter(category="").count() + sum(
        1 for e in letters.values_list("errors", flat=True) if not e
    )
    lettered_rows = set(letters.values_list("record__row_number", flat=True))
    checks.append(
        (
            "dead letters explainable",
            unexplained == 0 and lettered_rows >= invalid_rows,
            f"{letters.count():,} dead letters ({dict(Counter(letters.values_list('category', flat=True)))}), "
            f"{len(invalid_rows):,} invalid rows in the file",
        )
    )
    stamps = sorted(
        entry["timestamp"] for entry in result["log"] if entry["path"].startswith("/crm/")
    )
    worst, left = 0, 0
    for right, stamp in enumerate(stamps):
        while stamp - stamps[left] >= pipeline.WINDOW:
            left += 1
        worst = max(worst, right - left + 1)
    checks.append(
        (
            "rate law",
            worst <= pipeline.RATE,
            f"busiest {pipeline.WINDOW} s window of arrivals: {worst} calls (limit {pipeline.RATE})",
        )
    )
    return checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=0,
        help="worker pool processes (default: the worker's own, as docs/operations.md starts it)",
    )
    parser.add_argument(
        "--kill-every", type=float, default=60.0, help="seconds between pool-process kills"
    )
    args = parser.parse_args()
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        sys.exit(
            "bench/soak.py needs DATABASE_URL (PostgreSQL) and REDIS_URL: real workers share them"
        )

    old_name = pipeline.database_create("_soak")
    media_root = tempfile.mkdtemp(prefix="sy-soak-media-")
    settings.MEDIA_ROOT = media_root
    app.control.purge()
    failed = False
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "clay.csv"
            pipeline.clay_csv_write(path, args.rows)
            calm = one_run("calm", path, args.rows, {}, None, args.concurrency, media_root)
            soak = one_run(
                "soak",
                path,
                args.rows,
                {"429": 0.05, "500": 0.02},
                args.kill_every,
                args.concurrency,
                media_root,
            )
            checks = invariants(soak, path)
        for result in (calm, soak):
            run = result["run"]
            print(
                f"{result['label']:5s} run {run.pk}: {run.status}, {result['seconds']:.1f} s = "
                f"{result['rate']:,.0f} rows/s; {run.succeeded:,} loaded, {run.dead_lettered:,} dead-lettered, "
                f"{run.skipped:,} skipped; HubSpot answers {result['state']['statuses']}; faults injected "
                f"{result['state']['faultsInjected']}; pool processes killed: {result['killed']}"
            )
        share = soak["rate"] / calm["rate"]
        print(f"soak / calm throughput   {share:.0%}   (target >= 70 %)")
        for name, passed, detail in checks:
            print(f"{'ok  ' if passed else 'FAIL'} {name:26s} {detail}")
            failed |= not passed
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        shutil.rmtree(media_root, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
