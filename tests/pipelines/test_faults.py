"""Infrastructure faults with real processes: bench/faults.py starts a private PostgreSQL and
a private Redis (AOF) on this suite's ports, a real `celery worker` and `celery beat` with the
migrations' schedules, imports a Clay file, injects each fault at 30 % and checks the run ends
with every valid contact in HubSpot exactly once, the invariant, no dead letter caused by the
fault. The recovery time is measured, not asserted, here (bench/faults.py reports it against
the 60 s target). The drills run once per session (a few minutes); each drill is its own test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
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

pytestmark = [
    pytest.mark.skipif(
        not (
            os.environ.get("REDIS_URL")
            and os.environ.get("DATABASE_URL", "").startswith("postgres")
            and shutil.which("redis-server")
            and shutil.which("initdb")
        ),
        reason="needs PostgreSQL and Redis (REDIS_URL, DATABASE_URL, initdb, redis-server)",
    ),
    pytest.mark.redis,
    pytest.mark.postgres,
]


@pytest.fixture(scope="module")
def drills() -> dict[str, dict]:
    port_base = os.environ.get("FAULT_DRILL_PORT_BASE", "9750")
    done = subprocess.run(
        [
            sys.executable,
            "bench/faults.py",
            "--rows",
            "3000",
            "--outage-seconds",
            "20",
            "--port-base",
            port_base,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return {line["drill"]: line for line in lines}


@pytest.mark.parametrize("name", DRILLS)
def test_the_run_survives_the_fault_exactly_once(drills, name):
    drill = drills[name]

    # What a fault must never cost: an unfinished run, a record lost or sent twice, a record
    # dead-lettered for our own infrastructure. How fast it recovers is a figure, not a test
    # verdict on a shared machine: bench/faults.py (make bench) prints it and fails above 60 s.
    checks = {key: ok for key, ok in drill["checks"].items() if key != "recovered_in_time"}
    assert checks == {  # the whole drill's figures on failure:
        "finished": True,
        "invariant": True,
        "exactly_once": True,
        "nothing_dead_lettered_by_the_fault": True,
    }, drill
    assert drill["succeeded"] + drill["dead_lettered"] == drill["records_in"] == 3000
