"""Fault drills: a CSV import through a real worker and a real beat, a fault injected once
30 % of the contacts are in HubSpot, and the time from the fault clearing to the run's end.

    .venv/bin/python bench/faults.py [--rows 10000] [--only worker_kill,redis_flush] [--port-base 9710]
        [--outage-seconds 120] [--postgres-down-seconds 10]

Everything runs on private servers this script starts and stops on --port-base and the next
ports: a PostgreSQL cluster (initdb in a temporary folder, run as the ``postgres`` OS user when
started as root), a Redis with AOF (appendonly yes, as docs/operations.md asks), and the HubSpot
sandbox (190 requests / 10 s, 150 ms a call). The worker and beat are started exactly as
docs/operations.md says (`celery -A config worker`, `celery -A config beat`), with the
migrations' sweeper schedules; nothing is shortened for the drill.

Every drill asserts: the run finishes; records in = succeeded + dead-lettered + skipped; every
valid contact is in the sandbox exactly once (one object per email, none missing, none extra);
no record dead-lettered by the fault; recovery under 60 s. It prints one JSON line per drill and
exits non-zero if any drill failed. tests/pipelines/test_faults.py runs it with fewer rows.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

RECOVERY_LIMIT = 60.0


def _as_postgres(command: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the postgres OS user then."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


class PrivatePostgres:
    def __init__(self, folder: Path, port: int) -> None:
        self.data, self.port, self.log = folder / "pg", port, folder / "pg.log"
        folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres")
        subprocess.run(
            _as_postgres(["initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres"]),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        self.start()
        subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "-c",
                "CREATE DATABASE faults",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/faults"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            _as_postgres(["pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", *args]),
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def start(self) -> None:
        self._ctl("-o", f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1", "start")

    def stop(self) -> None:
        self._ctl("-m", "fast", "stop")


class PrivateRedis:
    def __init__(self, folder: Path, port: int) -> None:
        self.folder, self.port, self.process = folder, port, None
        folder.mkdir(parents=True, exist_ok=True)
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.folder),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                "--maxmemory-policy",
                "noeviction",
            ],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(100):
            if self.cli("ping") == "PONG":
                return
            time.sleep(0.05)
        raise RuntimeError("private redis did not start")

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            ["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True
        )
        return done.stdout.strip()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait()


class PrivateServers:
    """A scratch folder holding a private PostgreSQL (``port_base``), a private Redis with AOF
    (``port_base + 1``) and a media folder; ``stop`` stops them (and the given processes
    first) and removes the folder. A server that cannot start removes the folder too."""

    def __init__(self, *, prefix: str, port_base: int) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix=prefix))
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        try:
            self.postgres = PrivatePostgres(self.folder / "postgres", port_base)
            self.redis = PrivateRedis(self.folder / "redis", port_base + 1)
        except Exception:
            shutil.rmtree(self.folder, ignore_errors=True)  # e.g. the port is taken
            raise
        self.media = self.folder / "media"
        self.media.mkdir()

    def app_environ(self) -> dict[str, str]:
        """The variables that point the app (this script's Django, its workers) at them."""
        return {
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": self.postgres.url,
            "REDIS_URL": self.redis.url,
            "MEDIA_ROOT": str(self.media),
            "PIPELINE_LOAD_THREADS": "8",  # the production default (test settings use 1)
        }

    def stop(self, processes: Iterable[subprocess.Popen] = ()) -> None:
        for process in processes:
            stop(process)
        self.redis.stop()
        try:
            self.postgres.stop()
        except subprocess.CalledProcessError:
            print("private PostgreSQL did not stop cleanly", file=sys.stderr)
        shutil.rmtree(self.folder, ignore_errors=True)


def celery_start(kind: str, name: str, env: dict[str, str]) -> subprocess.Popen:
    """`celery -A config worker` / `celery -A config beat`, as docs/operations.md says."""
    args = [sys.executable, "-m", "celery", "-A", "config", kind, "-l", "WARNING"]
    if kind == "worker":
        args += ["-n", f"{name}@%h"]
    else:
        args += ["--pidfile=", "-s", str(Path(env["MEDIA_ROOT"]) / f"{name}-schedule")]
    return subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(Path(env["MEDIA_ROOT"]) / f"{name}.log", "ab"),  # noqa: SIM115
        start_new_session=True,
    )


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)  # the process group we started, nothing else
        process.wait(timeout=30)
    except ProcessLookupError:  # exited meanwhile, or not a group leader: stop it alone
        process.kill()
        process.wait()
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class Supervisor:
    """What systemd (Restart=always, RestartSec=5) or Docker (restart: unless-stopped) does for
    the worker and beat in production (docs/operations.md, Processes): start a process again
    when it exits. Celery's worker can exit on a lost broker connection instead of
    reconnecting (kombu fails closing the dead connection), so the drills run it supervised."""

    RESTART_AFTER = 5.0

    def __init__(self, env: dict[str, str]) -> None:
        self.env, self.processes, self.restarts = env, {}, 0
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        threading.Thread(target=self._watch, daemon=True).start()

    def start(self, kind: str, name: str) -> None:
        with self._lock:
            self.processes[name] = (kind, celery_start(kind, name, self.env))

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        stop(self.processes[name][1], sig)

    def remove(self, name: str) -> None:
        with self._lock:
            _kind, process = self.processes.pop(name)
        stop(process)

    def wait_restarted(self, name: str, since: float) -> float:
        while True:
            with self._lock:
                started = getattr(self.processes[name][1], "started_at", 0.0)
            if started > since:
                return started
            time.sleep(0.1)

    def _watch(self) -> None:
        exited: dict[str, float] = {}
        while not self._stopped.wait(0.2):
            with self._lock:
                for name, (kind, process) in list(self.processes.items()):
                    if process.poll() is None:
                        continue
                    exited.setdefault(name, time.monotonic())
                    if time.monotonic() - exited[name] >= self.RESTART_AFTER:
                        restarted = celery_start(kind, name, self.env)
                        restarted.started_at = time.monotonic()
                        self.processes[name] = (kind, restarted)
                        self.restarts += 1
                        del exited[name]

    def stop_all(self) -> None:
        self._stopped.set()
        with self._lock:
            for _kind, process in self.processes.values():
                stop(process)


def main() -> int:  # noqa: PLR0915 - a script: set-up, drills, tear-down in order
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # so the servers are stopped
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--only", default="", help="comma-separated drill names")
    parser.add_argument("--port-base", type=int, default=9710)
    parser.add_argument(
        "--outage-seconds", type=float, default=120.0, help="how long HubSpot answers 503"
    )
    parser.add_argument(
        "--postgres-down-seconds", type=float, default=10.0, help="PostgreSQL stopped this long"
    )
    args = parser.parse_args()

    servers = PrivateServers(prefix="switchyard-faults-", port_base=args.port_base)
    postgres, redis = servers.postgres, servers.redis
    os.environ.update(servers.app_environ())
    env = {**os.environ}
    supervisor = Supervisor(env)
    results: list[dict] = []
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        drills = Drills(args, postgres, redis, supervisor)
        supervisor.start("worker", "worker")
        supervisor.start("beat", "beat")
        chosen = [name for name in DRILLS if not args.only or name in args.only.split(",")]
        for name in chosen:
            results.append(drills.run(name))
            print(json.dumps(results[-1]), flush=True)
    finally:
        supervisor.stop_all()
        servers.stop()
    return 0 if results and all(r["ok"] for r in results) else 1


DRILLS = [
    "worker_kill",
    "redis_kill",
    "redis_flush",
    "postgres_restart",
    "postgres_restart_staging",
    "hubspot_503",
    "beat_restart",
    "two_beats",
]


class Drills:
    def __init__(self, args, postgres, redis, supervisor) -> None:
        import pipeline  # bench/pipeline.py: the Clay file and the workflow

        from sandbox.hubspot import HubSpotSandbox, serve

        self.args, self.postgres, self.redis = args, postgres, redis
        self.supervisor = supervisor
        self.pipeline = pipeline
        self.sandbox = HubSpotSandbox(
            rate_limit=pipeline.RATE,
            window_seconds=pipeline.WINDOW,
            latency_ms=pipeline.LATENCY_MS,
            daily_limit=None,
            tokens={pipeline.TOKEN},
        )
        self.server, _thread = serve(self.sandbox, "127.0.0.1", args.port_base + 2)
        self.base = f"http://127.0.0.1:{args.port_base + 2}"
        self.file = Path(os.environ["MEDIA_ROOT"]) / "clay.csv"
        pipeline.clay_csv_write(self.file, args.rows)

    # --- the faults: each returns when the fault is cleared -----------------------------
    def worker_kill(self) -> None:
        killed_at = time.monotonic()
        self.supervisor.kill("worker")  # the whole worker: main process and pool
        self.supervisor.wait_restarted("worker", killed_at)  # a new worker, 5 s later

    def redis_kill(self) -> None:
        self.redis.kill()
        time.sleep(3)
        self.redis.start()

    def redis_flush(self) -> None:
        self.redis.cli("FLUSHALL")

    def postgres_restart(self) -> None:
        self.postgres.stop()  # pg_ctl stop -m fast: every connection is cut
        time.sleep(self.args.postgres_down_seconds)
        self.postgres.start()

    def postgres_restart_staging(self) -> None:
        self.postgres_restart()  # injected while the file is staged (see run())

    def hubspot_503(self) -> None:
        self.sandbox.set_faults({"503": 1.0})
        time.sleep(self.args.outage_seconds)
        self.sandbox.set_faults({})

    def beat_restart(self) -> None:
        stopped_at = time.monotonic()
        self.supervisor.kill("beat", signal.SIGTERM)
        self.supervisor.wait_restarted("beat", stopped_at)

    def two_beats(self) -> None:
        # By mistake, a second beat: every sweep is sent twice; a wake-up is harmless twice.
        self.supervisor.start("beat", "beat-extra")

    # --- one drill ---------------------------------------------------------------------
    def run(self, name: str) -> dict:
        from django.db import connection

        from pipelines.models import DeadLetter, RecordState, Run, RunRecord
        from pipelines.services.staging import run_create_csv

        self.sandbox.reset()
        restarts_before = self.supervisor.restarts
        workflow = self.pipeline.workflow_create(self.base, suffix=f"-{name}")
        with self.file.open("rb") as handle:
            run = run_create_csv(
                workflow=workflow, file=handle, filename=self.file.name, actor_label="faults"
            )
        started = time.monotonic()
        target = int(self.args.rows * 0.3)
        while (
            _retrying(lambda: RunRecord.objects.filter(run=run, state=RecordState.LOADED).count())
            < target
        ):
            assert time.monotonic() - started < 300, f"{name}: never reached 30 %"
            time.sleep(0.2)
        fault_at = time.monotonic()
        getattr(self, name)()
        cleared_at = time.monotonic()
        while not _retrying(lambda: Run.objects.get(pk=run.pk).is_finished):
            if time.monotonic() - cleared_at > 600:
                break
            time.sleep(0.25)
        ended_at = time.monotonic()
        connection.close()
        run = _retrying(lambda: Run.objects.get(pk=run.pk))
        emails = [c["properties"]["email"] for c in self.sandbox.objects("contacts")]
        valid = run.records_in - _retrying(
            lambda: DeadLetter.objects.filter(run=run, stage="transform").count()
        )
        checks = {
            "finished": run.is_finished,
            "invariant": run.records_in == run.succeeded + run.dead_lettered + run.skipped,
            "exactly_once": len(emails) == len(set(emails)) == valid == run.succeeded,
            "nothing_dead_lettered_by_the_fault": run.failed == 0,
            "recovered_in_time": ended_at - cleared_at < RECOVERY_LIMIT,
        }
        if "beat-extra" in self.supervisor.processes:
            self.supervisor.remove("beat-extra")
        return {
            "drill": name,
            "ok": all(checks.values()),
            "checks": checks,
            "records_in": run.records_in,
            "succeeded": run.succeeded,
            "dead_lettered": run.dead_lettered,
            "fault_lasted_s": round(cleared_at - fault_at, 1),
            "recovered_in_s": round(ended_at - cleared_at, 1),
            "run_s": round(ended_at - started, 1),
            "process_restarts": self.supervisor.restarts - restarts_before,
        }


def _retrying(query: Callable):
    """The drill's own reads ride out a PostgreSQL restart like the product does."""
    from django.db import InterfaceError, OperationalError, connection

    for _ in range(600):
        try:
            return query()
        except (OperationalError, InterfaceError):
            connection.close()
            time.sleep(0.5)
    raise RuntimeError("the database did not come back")


if __name__ == "__main__":
    sys.exit(main())
