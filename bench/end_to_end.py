"""End-to-end throughput as a user gets it: `import_csv --wait`, or the import wizard, with
workers started exactly as docs/operations.md says, one or several HubSpot portals at once.

    .venv/bin/python bench/end_to_end.py [--rows 100000] [--portals 1] [--latency-ms 150]
        [--via command|wizard]

Private PostgreSQL and Redis (AOF) on --port-base and the next port, one HubSpot sandbox per
portal (190 requests / 10 s each) on the ports after them; `celery -A config worker` and
`celery -A config beat` with their defaults (two pool processes per core). For each portal a
`manage.py import_csv FILE --workflow … --wait --json` is started at the same moment; the
figure is rows / (command start → the command returned), against the portal's ceiling of
190 / 10 s x 100 = 1,900 contacts/s. With --via wizard, gunicorn serves the admin (as
docs/operations.md says), the file is uploaded and previewed through the wizard (timed apart:
a person reads the preview), and the figure is timed from the confirm to the run's end.
Also printed: where the time went (run created, file planned, first chunk and whole file
staged, first and last batch upsert), HubSpot 429s (over-limit answers; must be 0), and the
peak resident memory of the worker's processes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from faults import PrivateServers, celery_start  # noqa: E402


def _family(pid: int) -> list[int]:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return [pid, *(int(c) for c in children)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (the worker's pool) so far."""
    total = 0
    for one in _family(pid):
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (the worker's pool), in MB."""
    total = 0
    for one in _family(pid):
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


class SandboxProcess:
    """One portal's HubSpot sandbox in a process of its own, as a real portal is: three
    sandboxes in this script's process would share one interpreter lock (~17 ms of Python a
    100-contact call) and slow each other's answers down."""

    def __init__(self, port: int, *, latency_ms: float) -> None:
        import pipeline

        self.base = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sandbox.hubspot", "--port", str(port)]
            + ["--rate-limit", str(pipeline.RATE), "--window-seconds", str(pipeline.WINDOW)]
            + ["--latency-ms", str(latency_ms), "--daily-limit", "0", "--token", pipeline.TOKEN],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        pipeline.sandbox_wait(self.base)

    @property
    def request_log(self) -> list[tuple[str, str, int, float]]:
        import httpx

        log = httpx.get(f"{self.base}/__sandbox__/log", timeout=60).json()["results"]
        return [(e["method"], e["path"], e["status"], e["timestamp"]) for e in log]


def _phases(slug: str, request_log: list, *, started_wall: float) -> dict:
    """Where the time went, in seconds from the command's start: the run created, its file
    planned, the first chunk and the whole file staged, the first and the last batch upsert,
    and the upserts per second between them (the portal's ceiling is 19)."""
    from pipelines.models import Run

    def since_start(moment) -> float | None:
        return round(moment.timestamp() - started_wall, 1) if moment else None

    run = Run.objects.filter(workflow__slug=slug).latest("pk")
    first_chunk = run.chunks.filter(staged_at__isnull=False).order_by("staged_at").first()
    times = sorted(
        t for _m, path, status, t in request_log if status != 429 and path.endswith("/batch/upsert")
    )
    if not times:
        return {}
    first, last = times[0] - started_wall, times[-1] - started_wall
    return {
        "run_created_s": since_start(run.created_at),
        "plan_ms": run.timings.get("plan"),
        "first_chunk_staged_s": since_start(first_chunk.staged_at if first_chunk else None),
        "staged_s": since_start(run.staged_at),
        "first_call_s": round(first, 1),
        "last_call_s": round(last, 1),
        "run_finished_s": since_start(run.finished_at),
        "finish_ms": run.timings.get("finish"),
        "calls": len(times),
        "calls_per_s_while_loading": round(len(times) / max(last - first, 0.001), 1),
        "calls_in_first_10_s": sum(1 for t in times if t < times[0] + 10),
    }


def _through_the_wizard(args, env, processes, slug: str, path: Path) -> tuple:
    """Upload and preview (a person's wait, timed apart), then confirm: the figure is timed
    from the confirm, as an import_csv's is from its start."""
    from django.contrib.auth import get_user_model
    from wizard import WizardImport, web_start

    from pipelines.models import Workflow

    port = args.port_base + 2 + args.portals
    processes["web"] = web_start(port, env)
    get_user_model().objects.create_superuser("bench-admin", "admin@example.com", "bench-pass-1")
    wizard = WizardImport(
        f"http://127.0.0.1:{port}", username="bench-admin", password="bench-pass-1"
    )
    preview_s = wizard.preview(workflow_id=Workflow.objects.get(slug=slug).pk, path=path)
    print(json.dumps({"wizard_upload_and_preview_s": round(preview_s, 1)}), flush=True)
    started = time.monotonic()
    return (slug, started, wizard.confirm())


def _run_wait(run_id: int) -> dict:
    from django.db import connection

    from pipelines.models import Run

    while True:
        connection.close()  # a fresh read each time
        run = Run.objects.get(pk=run_id)
        if run.is_finished:
            return {"status": run.status, "succeeded": run.succeeded}
        time.sleep(0.25)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--portals", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=150)
    parser.add_argument("--port-base", type=int, default=9720)
    parser.add_argument(
        "--via",
        choices=["command", "wizard"],
        default="command",
        help="import_csv --wait, or the import wizard through gunicorn (one portal)",
    )
    args = parser.parse_args()

    servers = PrivateServers(prefix="switchyard-e2e-", port_base=args.port_base)
    media = servers.media
    os.environ.update(servers.app_environ())
    env = {**os.environ}
    processes: dict[str, subprocess.Popen] = {}
    try:
        import django

        django.setup()
        import pipeline
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        sandboxes, slugs = [], []
        for n in range(args.portals):
            port = args.port_base + 2 + n
            sandbox = SandboxProcess(port, latency_ms=args.latency_ms)
            processes[f"sandbox-{n}"] = sandbox.process
            workflow = pipeline.workflow_create(f"http://127.0.0.1:{port}", suffix=f"-{n}")
            sandboxes.append(sandbox)
            slugs.append(workflow.slug)
        path = media / "clay.csv"
        pipeline.clay_csv_write(path, args.rows)
        processes["worker"] = celery_start("worker", "worker", env)
        processes["beat"] = celery_start("beat", "beat", env)
        time.sleep(8)  # the worker boots (imports Django and the app) before users start imports
        peak, cpu = [0.0], [0.0]
        done = threading.Event()
        cpu_before = cpu_seconds(processes["worker"].pid)

        def watch_memory() -> None:
            while not done.wait(0.5):
                peak[0] = max(peak[0], rss_mb(processes["worker"].pid))
                cpu[0] = cpu_seconds(processes["worker"].pid) - cpu_before

        threading.Thread(target=watch_memory, daemon=True).start()
        commands = []
        wall_starts = []
        if args.via == "wizard":
            commands.append(_through_the_wizard(args, env, processes, slugs[0], path))
            wall_starts.append(time.time() - (time.monotonic() - commands[0][1]))
            slugs = []
        for slug in slugs:
            started = time.monotonic()
            wall_starts.append(time.time())
            command = subprocess.Popen(
                [sys.executable, "manage.py", "import_csv", str(path), "--workflow", slug]
                + ["--wait", "--json"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            commands.append((slug, started, command))
        results = []
        for n, (slug, started, command) in enumerate(commands):
            if isinstance(command, int):  # a run started through the wizard
                summary = _run_wait(command)
            else:
                out, _ = command.communicate(timeout=3600)
                summary = json.loads(out.strip().splitlines()[-1])
            elapsed = time.monotonic() - started
            request_log = sandboxes[n].request_log
            statuses = [s for _m, _p, s, _t in request_log]
            phases = _phases(slug, request_log, started_wall=wall_starts[n])
            results.append(
                {
                    "portal": slug,
                    "rows": args.rows,
                    "seconds": round(elapsed, 1),
                    "contacts_per_s": round(args.rows / elapsed),
                    "share_of_ceiling": round(args.rows / elapsed / pipeline.CEILING, 3),
                    "status": summary["status"],
                    "succeeded": summary["succeeded"],
                    "hubspot_429s": statuses.count(429),
                    "hubspot_429s_by_path": dict(
                        Counter(path for _m, path, status, _t in request_log if status == 429)
                    ),
                    **phases,
                }
            )
        done.set()
        for result in results:
            result["worker_peak_rss_mb"] = round(peak[0])
            # Staging, dedupe and loading of every portal's run, per 100-contact batch.
            result["worker_cpu_ms_per_batch"] = round(
                cpu[0] * 1000 / (args.rows * args.portals / 100)
            )
            print(json.dumps(result), flush=True)
    finally:
        servers.stop(processes.values())
    return 0


if __name__ == "__main__":
    sys.exit(main())
