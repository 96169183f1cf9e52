"""The shared moving-window limiter (docs/reference/reliability.md#rate-limiter, docs/reference/libraries.md#shared-rate-limit)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from integrations.errors import RateLimited
from integrations.ratelimit import RateLimitSpec, SharedRateLimit, admitted_per_window

REDIS_URL = os.environ.get("REDIS_URL")
ROOT = Path(__file__).resolve().parents[2]


def test_memory_limiter_grants_the_limit_then_refuses():
    limiter = SharedRateLimit(None, RateLimitSpec(3, 60), f"t-{uuid.uuid4()}")
    for _ in range(3):
        limiter.acquire(max_wait=0)
    with pytest.raises(RateLimited) as raised:
        limiter.acquire(max_wait=5)
    assert 59 < raised.value.retry_after <= 60.01
    assert not raised.value.permanent


def test_acquire_sleeps_when_the_slot_frees_within_max_wait():
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    limiter = SharedRateLimit(None, RateLimitSpec(2, 1), f"t-{uuid.uuid4()}", sleep=sleep)
    started = time.monotonic()
    for _ in range(3):
        limiter.acquire(max_wait=2)
    assert len(slept) == 1
    assert 0.9 < slept[0] <= 1.01
    assert time.monotonic() - started >= 0.99


def test_spec_rejects_nonsense():
    with pytest.raises(ValueError, match="requests"):
        RateLimitSpec(0, 10)


WORKER = textwrap.dedent(
    """
    import json, sys, time
    from integrations.ratelimit import RateLimitSpec, SharedRateLimit, admitted_per_window
    url, key, start_at, duration, mode = sys.argv[1:6]
    limiter = SharedRateLimit(url, RateLimitSpec(20, 2), key)
    grants, worst = [], 0.0
    while time.time() < float(start_at):
        time.sleep(0.001)
    end = float(start_at) + float(duration)
    while time.time() < end:
        before = time.time()
        if mode == "hammer":
            ok = limiter.try_acquire()
        else:
            try:
                limiter.acquire(max_wait=0.5); ok = True
            except Exception:
                ok = False
        after = time.time()
        if ok:
            grants.append(before)
            worst = max(worst, after - before)
    print(json.dumps({"grants": grants, "latency": worst}))
    """
)


@pytest.mark.redis
@pytest.mark.skipif(
    not REDIS_URL, reason="needs a real Redis: set REDIS_URL (e.g. redis://127.0.0.1:6379/15)"
)
def test_two_processes_never_exceed_the_limit_in_any_rolling_window():
    key = f"test-ratelimit-{uuid.uuid4()}"
    start_at = time.time() + 1.5  # both processes import, then start together
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, REDIS_URL, key, str(start_at), "5", mode],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for mode in ("hammer", "acquire")
    ]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        outputs.append(json.loads(out))
    grants = sorted(t for o in outputs for t in o["grants"])
    # Each grant is stamped just before its hit; limits stamps it inside the hit, at most
    # `latency` later. So 21 grants inside any (2 s - latency) would mean 21 inside 2 s.
    latency = max(o["latency"] for o in outputs)
    window = 2.0 - latency
    worst = max(sum(1 for t in grants[i:] if t < start + window) for i, start in enumerate(grants))
    assert worst <= 20, f"{worst} grants in a rolling {window:.3f} s window (limit 20 per 2 s)"
    # The window really was saturated (a limiter admitting nothing would pass the check above),
    # and both processes drew from the same key.
    assert len(grants) >= 40
    assert all(o["grants"] for o in outputs)
    # A token bucket of capacity 20 refilling 10/s would admit 20 + 10*5 = 70 in 5 s; the moving
    # window admits at most 20 per 2 s: ceil(5/2)*20 = 60.
    assert len(grants) <= 60


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (a real Redis server)")
def test_threads_building_the_shared_limiter_at_once_all_get_a_working_store():
    import threading
    import uuid

    from integrations import ratelimit

    ratelimit._storage_unlocked.cache_clear()
    key, errors, barrier = f"switchyard:test:threads:{uuid.uuid4().hex}", [], threading.Barrier(8)

    def build_and_hit():
        barrier.wait()
        try:
            ratelimit.SharedRateLimit(
                os.environ["REDIS_URL"], ratelimit.RateLimitSpec(100, 10), key
            ).acquire(max_wait=0)
        except Exception as exc:  # noqa: BLE001 - any failure is the finding
            errors.append(exc)

    threads = [threading.Thread(target=build_and_hit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_a_large_window_keeps_some_headroom_for_arrival_skew():
    limiter = SharedRateLimit(None, RateLimitSpec(190, 10), f"t-{uuid.uuid4()}")
    limiter._pace = None  # the window alone (the pace is tested below)
    admitted = sum(limiter.try_acquire() for _ in range(200))

    assert admitted == admitted_per_window(RateLimitSpec(190, 10)) == 186
    assert admitted_per_window(RateLimitSpec(20, 2)) == 20  # small windows are used whole
    assert admitted_per_window(RateLimitSpec(5, 1)) == 5


def test_a_large_window_is_paced_at_its_share_per_second():
    limiter = SharedRateLimit(None, RateLimitSpec(190, 10), f"t-{uuid.uuid4()}")

    admitted_now = sum(limiter.try_acquire() for _ in range(200))

    assert admitted_now == 19  # 186 admitted per 10 s, spent 19 a second, not all at once
    assert 0 < limiter.wait_time() <= 1.0


def test_small_limits_are_not_paced():
    limiter = SharedRateLimit(None, RateLimitSpec(40, 10), f"t-{uuid.uuid4()}")

    assert sum(limiter.try_acquire() for _ in range(50)) == 40
