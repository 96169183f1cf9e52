"""Webhook intake under gunicorn, at a fixed request rate, with a real worker on the same machine.

    .venv/bin/python bench/webhook_server.py [--rates 1000] [--seconds 15] [--port-base 9730]
        [--workers 2 --threads 8 --worker-class gthread] [--only clay,hubspot]

Private PostgreSQL and Redis (AOF) on --port-base and the next port (bench/faults.py), the
HubSpot sandbox the workflow loads into on the port after (190 requests / 10 s), gunicorn on
the one after that, started with the command line docs/operations.md gives ("Web server and
webhook intake"), and `celery -A config worker` and `celery -A config beat` as the same page
says, all with `config.settings.base` and DEBUG off. An open-loop generator (bench/open_loop.py)
posts Clay rows, one per request as Clay's HTTP API column sends them, at each of --rates for
--seconds; then HubSpot webhook deliveries (one signed event per request) to the event hub's
endpoint. Printed per endpoint: achieved requests/s, p50/p99/max latency measured from each
request's due time, statuses and errors, records sent / acknowledged / stored (nothing lost),
how long the worker took to claim every stored Clay row into a run, the CPU each process
group spent per request, and the load average before and after.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from faults import PrivateServers, celery_start  # noqa: E402
from open_loop import http_post, open_loop_run  # noqa: E402

CLAY_SECRET = "bench-clay-shared-secret-000000"  # noqa: S105 - a bench's own
HUBSPOT_CLIENT_SECRET = "bench-hubspot-app-client-secret"  # noqa: S105 - a bench's own


def gunicorn_command(*, bind: str, worker_class: str, workers: int, threads: int) -> list[str]:
    """The web process as docs/operations.md runs it."""
    command = [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi", "--bind", bind]
    command += ["--worker-class", worker_class, "--workers", str(workers)]
    if worker_class == "gthread":
        command += ["--threads", str(threads)]
    return command


@contextmanager
def niceness(value: int):  # noqa: ANN201 - a context manager
    """Start servers at a lower priority than the load generator (Linux niceness is per
    thread and inherited by children; going back needs CAP_SYS_NICE, so 0 changes nothing)."""
    if not value:
        yield
        return
    before = os.getpriority(os.PRIO_PROCESS, 0)
    os.setpriority(os.PRIO_PROCESS, 0, value)
    try:
        yield
    finally:
        os.setpriority(os.PRIO_PROCESS, 0, before)


def client_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_busy() -> tuple[float, float]:
    """CPU seconds every core of the machine spent busy so far, and the clock."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK"), time.monotonic()


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def wait_listening(port: int, seconds: float = 60) -> None:
    import socket

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {port}")


def clay_request(port: int, slug: str, tag: str):  # noqa: ANN201 - a request builder
    path = f"/hooks/clay/{slug}/"

    def request_for(i: int) -> bytes:
        row = {
            "Email": f"person{i}-{tag}@acme{i % 500}.com",
            "First Name": f"first{i}",
            "Last Name": f"LAST{i}",
            "Company Name": f"Acme {i % 500}",
            "Job Title": "VP Marketing",
            "Country": "United States",
        }
        return http_post(
            host="127.0.0.1",
            port=port,
            path=path,
            body=json.dumps(row).encode(),
            headers={"X-Switchyard-Token": CLAY_SECRET},
        )

    return request_for


def hubspot_request(port: int, connection_name: str, tag: int):  # noqa: ANN201
    path = f"/hooks/events/hubspot/{connection_name}/"
    uri = f"http://127.0.0.1:{port}{path}"

    def request_for(i: int) -> bytes:
        stamp = int(time.time() * 1000)
        body = json.dumps(
            [
                {
                    "eventId": tag * 10_000_000 + i,
                    "subscriptionId": 1,
                    "portalId": 62515,
                    "occurredAt": stamp,
                    "subscriptionType": "contact.propertyChange",
                    "attemptNumber": 0,
                    "objectId": 1000 + i % 5000,
                    "propertyName": "lifecyclestage",
                    "propertyValue": "marketingqualifiedlead",
                    "changeSource": "CRM",
                }
            ]
        ).encode()
        message = f"POST{uri}".encode() + body + str(stamp).encode()
        signature = base64.b64encode(
            hmac.new(HUBSPOT_CLIENT_SECRET.encode(), message, hashlib.sha256).digest()
        ).decode()
        return http_post(
            host="127.0.0.1",
            port=port,
            path=path,
            body=body,
            headers={"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": stamp},
        )

    return request_for


def tree_cpu_seconds(pid: int) -> float:
    """CPU (user + system) of a process and all its descendants so far, including those that
    exited and were reaped (a PostgreSQL backend per connection, gunicorn workers)."""
    ticks = 0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except (OSError, IndexError, ValueError):
        return 0.0
    total = ticks / os.sysconf("SC_CLK_TCK")
    for child in children:
        # A live child's own reaped children are in its cutime; its own time is not in ours yet.
        total += tree_cpu_seconds(int(child))
    return total


def postgres_background_cpu_seconds(postmaster: int) -> float:
    """CPU of PostgreSQL's own processes (WAL writer, checkpointer, autovacuum...), not the
    backends serving connections: where a commit's flush and the clean-up after inserts go."""
    total = 0.0
    try:
        children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
    except OSError:
        return 0.0
    for child in children:
        try:
            title = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"127.0.0.1(" not in title:
            total += tree_cpu_seconds(int(child))
    return total


def groups_cpu(processes: dict[str, int]) -> dict[str, float]:
    seconds = {name: tree_cpu_seconds(pid) for name, pid in processes.items()}
    if "postgres" in processes:
        background = postgres_background_cpu_seconds(processes["postgres"])
        seconds["postgres"] -= background
        seconds["postgres background"] = background
    return seconds


def main() -> int:  # noqa: PLR0915 - a script: set-up, phases, tear-down in order
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rates", default="1000", help="requests/s, comma-separated: one phase per rate"
    )
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--port-base", type=int, default=9730)
    parser.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--connections", type=int, default=64, help="client connections at most")
    parser.add_argument("--only", default="clay,hubspot")
    parser.add_argument(
        "--server-nice",
        type=int,
        default=0,
        help="niceness of every server started (0: as the load generator)",
    )
    parser.add_argument("--no-worker", action="store_true", help="intake alone (no Celery)")
    parser.add_argument(
        "--drain-seconds", type=float, default=150, help="wait this long for the worker"
    )
    args = parser.parse_args()

    with niceness(args.server_nice):
        servers = PrivateServers(prefix="switchyard-intake-", port_base=args.port_base)
    postgres, redis, media, folder = servers.postgres, servers.redis, servers.media, servers.folder
    sandbox_port, web_port = args.port_base + 2, args.port_base + 3
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "DEBUG": "0",
            "DATABASE_URL": postgres.url,
            "REDIS_URL": redis.url,
            "MEDIA_ROOT": str(media),
            "SWITCHYARD_VAR_DIR": str(folder / "var"),
            "ALLOWED_PRIVATE_BASE_URLS": f"http://127.0.0.1:{sandbox_port}",
            "LOG_LEVEL": "WARNING",
        }
    )
    env = {**os.environ}
    processes: dict[str, subprocess.Popen] = {}
    try:
        import django

        django.setup()
        import pipeline  # bench/pipeline.py: the HubSpot-side workflow and mapping
        from django.core.management import call_command
        from django.db.models import Sum

        from events.models import Event
        from integrations.models import AuthType, Connection
        from integrations.services import connection_save
        from pipelines.models import InboundEvent, Run

        call_command("migrate", verbosity=0)
        # Its own process, so its CPU does not share a GIL with the load generator.
        with niceness(args.server_nice):
            processes["sandbox"] = subprocess.Popen(
                [sys.executable, "-m", "sandbox.hubspot", "--port", str(sandbox_port)]
                + ["--rate-limit", str(pipeline.RATE), "--window-seconds", str(pipeline.WINDOW)]
                + ["--latency-ms", "40", "--daily-limit", "0", "--token", pipeline.TOKEN],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        workflow = pipeline.workflow_create(f"http://127.0.0.1:{sandbox_port}")
        workflow.source_connection = connection_save(
            connection=Connection(
                name="clay-intake", provider="clay", auth_type=AuthType.HEADER_TOKEN
            ),
            secrets={"token": CLAY_SECRET},
        )
        workflow.save(update_fields=["source_connection"])
        connection_save(
            connection=Connection(name="hubspot-webhooks", provider="hubspot"),
            secrets={"client_secret": HUBSPOT_CLIENT_SECRET},
        )
        from django.db import connections

        connections.close_all()

        web = gunicorn_command(
            bind=f"127.0.0.1:{web_port}",
            worker_class=args.worker_class,
            workers=args.workers,
            threads=args.threads,
        )
        with niceness(args.server_nice):
            processes["web"] = subprocess.Popen(
                web,
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=open(media / "web.log", "ab"),  # noqa: SIM115
                start_new_session=True,
            )
        with niceness(args.server_nice):
            if not args.no_worker:
                processes["worker"] = celery_start("worker", "worker", env)
                processes["beat"] = celery_start("beat", "beat", env)
        wait_listening(web_port)
        time.sleep(8)  # the worker boots before Clay starts sending
        groups = {name: p.pid for name, p in processes.items()}
        groups["postgres"] = int((postgres.data / "postmaster.pid").read_text().split()[0])
        groups["redis"] = redis.process.pid
        print(
            f"web: {' '.join(web[1:])}; worker: {'none' if args.no_worker else 'celery -A config worker'}"
            f"; load average before {load_average()}",
            flush=True,
        )
        # Warm-up: every gunicorn thread opens its database connection and imports.
        open_loop_run(
            host="127.0.0.1",
            port=web_port,
            request_for=clay_request(web_port, workflow.slug, "warm"),
            rate=200,
            seconds=2,
            connections=args.connections,
        )

        def stored_count(endpoint: str) -> int:
            if endpoint == "clay":
                return InboundEvent.objects.filter(source="clay").count()
            return Event.objects.filter(source="hubspot-webhooks").count()

        def drained(pending: Callable[[], int]) -> tuple[int, float]:
            started = time.monotonic()
            left = pending()
            while left and time.monotonic() - started < args.drain_seconds:
                time.sleep(0.5)
                left = pending()
            return left, round(time.monotonic() - started, 1)

        def phase_run(name: str, request_for: Callable[[int], bytes], rate: float) -> dict:
            before, stored_before = groups_cpu(groups), stored_count(name)
            runs_before = Run.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
            client_before, machine_before = client_cpu_seconds(), machine_busy()
            outcome = open_loop_run(
                host="127.0.0.1",
                port=web_port,
                request_for=request_for,
                rate=rate,
                seconds=args.seconds,
                connections=args.connections,
            )
            after, client_after, machine_after = (
                groups_cpu(groups),
                client_cpu_seconds(),
                machine_busy(),
            )
            result = {"endpoint": name, **outcome.summary(), "target_rps": rate}
            # 202: stored now; 200 would be a replay answered as a duplicate (none are sent).
            accepted = outcome.statuses.get(202, 0)
            stored = stored_count(name) - stored_before
            result.update({"accepted": accepted, "stored": stored, "lost": accepted - stored})
            per_request = {group: after[group] - before[group] for group in after}
            per_request["load generator"] = client_after - client_before
            result["cpu_ms_per_request"] = {
                group: round(seconds * 1000 / max(1, outcome.sent), 2)
                for group, seconds in per_request.items()
            }
            busy, elapsed = (machine_after[0] - machine_before[0]), outcome.seconds
            ours = sum(per_request.values())
            result["cores_busy"] = round(busy / elapsed, 2)
            result["cores_busy_with_other_work"] = round(max(0.0, busy - ours) / elapsed, 2)
            if args.no_worker:
                pass
            elif name == "clay":
                # Every stored row claimed into a run, every run finished, rows counted.
                result["unclaimed"], result["claim_drain_s"] = drained(
                    lambda: InboundEvent.objects.filter(source="clay", run__isnull=True).count()
                )
                result["unfinished_runs"], result["run_drain_s"] = drained(
                    lambda: Run.objects.filter(trigger="webhook", finished_at__isnull=True).count()
                )
                totals = Run.objects.filter(trigger="webhook", pk__gt=runs_before).aggregate(
                    records_in=Sum("records_in"),
                    succeeded=Sum("succeeded"),
                    dead_lettered=Sum("dead_lettered"),
                    skipped=Sum("skipped"),
                )
                result["webhook_runs"] = totals
            else:
                result["not_fanned_out"], result["fan_out_drain_s"] = drained(
                    lambda: Event.objects.filter(
                        source="hubspot-webhooks", fanned_out_at__isnull=True
                    ).count()
                )
            result["load_average_after"] = load_average()
            return result

        for n, rate in enumerate(float(r) for r in args.rates.split(",")):
            phases = [
                ("clay", clay_request(web_port, workflow.slug, f"run{n}")),
                ("hubspot", hubspot_request(web_port, "hubspot-webhooks", n + 1)),
            ]
            for name, request_for in phases:
                if name not in args.only.split(","):
                    continue
                result = phase_run(name, request_for, rate)
                print(json.dumps(result), flush=True)
    finally:
        servers.stop(processes.values())
    return 0


if __name__ == "__main__":
    sys.exit(main())
