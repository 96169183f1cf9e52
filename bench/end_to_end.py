"""End-to-end throughput as a user gets it: `import_csv --wait` with workers started exactly as
docs/operations.md says, one or several HubSpot portals at once.

    .venv/bin/python bench/end_to_end.py [--rows 100000] [--portals 1] [--latency-ms 150]

Private PostgreSQL and Redis (AOF) on --port-base and the next port, one HubSpot sandbox per
portal (190 requests / 10 s each) on the ports after them; `celery -A config worker` and
`celery -A config beat` with their defaults (one pool process per core). For each portal a
`manage.py import_csv FILE --workflow … --wait --json` is started at the same moment; the
figure is rows / (command start → the command returned), against the portal's ceiling of
190 / 10 s x 100 = 1,900 contacts/s. Also printed: HubSpot 429s (over-limit answers; must be
0), and the peak resident memory of the worker's processes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from faults import PrivatePostgres, PrivateRedis, celery_start, stop  # noqa: E402


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


def _phases(slug: str, sandbox, *, started_wall: float) -> dict:
    """Where the time went, in seconds from the command's start: staging done, the first and
    the last HubSpot call, and the calls per second between them (the ceiling is 19)."""
    from pipelines.models import Run

    run = Run.objects.filter(workflow__slug=slug).latest("pk")
    times = sorted(t for _m, _p, status, t in sandbox.request_log if status != 429)
    if not times:
        return {}
    first, last = times[0] - started_wall, times[-1] - started_wall
    first_ten = [t for t in times if t < times[0] + 10]
    return {
        "staged_at_s": round(run.staged_at.timestamp() - started_wall, 1)
        if run.staged_at
        else None,
        "first_call_s": round(first, 1),
        "last_call_s": round(last, 1),
        "calls": len(times),
        "calls_per_s_while_loading": round(len(times) / max(last - first, 0.001), 1),
        "calls_in_first_10_s": len(first_ten),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--portals", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=150)
    parser.add_argument("--port-base", type=int, default=9720)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="switchyard-e2e-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    postgres = PrivatePostgres(folder / "postgres", args.port_base)
    redis = PrivateRedis(folder / "redis", args.port_base + 1)
    media = folder / "media"
    media.mkdir()
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": postgres.url,
            "REDIS_URL": redis.url,
            "MEDIA_ROOT": str(media),
            "PIPELINE_LOAD_THREADS": "8",  # the production default (test settings use 1)
        }
    )
    env = {**os.environ}
    processes: dict[str, subprocess.Popen] = {}
    try:
        import django

        django.setup()
        import pipeline
        from django.core.management import call_command

        from sandbox.hubspot import HubSpotSandbox, serve

        call_command("migrate", verbosity=0)
        sandboxes, slugs = [], []
        for n in range(args.portals):
            sandbox = HubSpotSandbox(
                rate_limit=pipeline.RATE,
                window_seconds=pipeline.WINDOW,
                latency_ms=args.latency_ms,
                daily_limit=None,
                tokens={pipeline.TOKEN},
            )
            port = args.port_base + 2 + n
            serve(sandbox, "127.0.0.1", port)
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
            out, _ = command.communicate(timeout=3600)
            elapsed = time.monotonic() - started
            summary = json.loads(out.strip().splitlines()[-1])
            statuses = [s for _m, _p, s, _t in sandboxes[n].request_log]
            phases = _phases(slug, sandboxes[n], started_wall=wall_starts[n])
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
        for process in processes.values():
            stop(process)
        redis.stop()
        try:
            postgres.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
