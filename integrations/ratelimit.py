"""A provider rate limit shared by every worker process, kept in Redis.

Why a moving window (timestamp log) and not a token bucket: HubSpot counts requests in a
*rolling* 10 s (docs/reference/hubspot.md#rate-limits, "TEN_SECONDLY_ROLLING"). A bucket of capacity 190 refilling
at 19/s admits 380 requests in the first 10 s (docs/reference/reliability.md#rate-limiter, "Limiter design
caveat"); a moving window never admits more than N in any window. We use `limits`'
MovingWindowRateLimiter (docs/reference/libraries.md#shared-rate-limit, measured exact across 4 processes).

Cost: one Redis round trip per request (≈0.07 ms measured), one list of N timestamps per key.
The window uses each worker's wall clock (`time.time()` inside `limits`), so hosts must be
NTP-synchronised; a skew of s seconds lets at most a few extra requests through at the edge.

When the window is full, ``acquire`` sleeps if the slot frees within ``max_wait``; otherwise it
raises ``RateLimited(retry_after=...)`` so a Celery task can ``retry(countdown=...)`` rather
than block a worker (docs/reference/libraries.md#shared-rate-limit recommendation).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from integrations.errors import RateLimited


@dataclass(frozen=True)
class RateLimitSpec:
    """``requests`` per rolling ``per_seconds``, e.g. HubSpot Pro: RateLimitSpec(190, 10)."""

    requests: int
    per_seconds: int

    def __post_init__(self) -> None:
        if self.requests < 1 or self.per_seconds < 1:
            raise ValueError("a rate limit needs requests >= 1 and per_seconds >= 1")


def admitted_per_window(spec: RateLimitSpec) -> int:
    """Calls we let through per window: the portal's limit less 2 % (none below 50 calls).

    We count a call when we acquire its slot, the portal when it arrives: a few to a hundred
    milliseconds later on a busy host, and not always in the same order. Without headroom the
    soak benchmark (bench/soak.py) saw 192 arrivals in a 10 s window of a 190 limit, and 7-9
    of HubSpot's 429s per 100k-row import, each holding a batch back for the 10 s window."""
    return spec.requests - spec.requests // 50


_storage_lock = threading.Lock()


# One storage per URL per process: each RedisStorage owns a connection pool. Created under a
# lock: `limits` fails when several threads build a Redis storage at the same moment (some see
# "redis version 0.0.0"), which a threaded worker pool would hit on its first requests.
@cache
def _storage_unlocked(storage_url: str | None) -> Storage:
    if not storage_url:
        # Per process only: fine for tests and the single-process demo, wrong for a fleet.
        return MemoryStorage()
    return storage_from_string(storage_url)


def _storage(storage_url: str | None) -> Storage:
    with _storage_lock:
        return _storage_unlocked(storage_url)


class SharedRateLimit:
    """One limit, one key (e.g. "hubspot:conn-12"), shared by every process using the same Redis."""

    def __init__(
        self,
        storage_url: str | None,
        spec: RateLimitSpec,
        key: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.spec = spec
        self.key = key
        self._item = RateLimitItemPerSecond(admitted_per_window(spec), spec.per_seconds)
        self._limiter = MovingWindowRateLimiter(_storage(storage_url))
        self._sleep = sleep

    def try_acquire(self) -> bool:
        """Take a slot if one is free now; never waits."""
        return self._limiter.hit(self._item, "switchyard", self.key)

    def wait_time(self) -> float:
        """Seconds until the oldest request in the window leaves it (0 if a slot is free)."""
        stats = self._limiter.get_window_stats(self._item, "switchyard", self.key)
        if stats.remaining > 0:
            return 0.0
        # `limits` stamps entries with time.time(), so the reset time is on that clock.
        return max(0.0, stats.reset_time - time.time())

    def acquire(self, *, max_wait: float) -> None:
        """Take a slot, sleeping up to ``max_wait`` seconds in total; else raise RateLimited."""
        waited = 0.0
        while not self.try_acquire():
            # A few ms of slack: the slot frees strictly after reset_time.
            wait = self.wait_time() + 0.005
            if waited + wait > max_wait:
                raise RateLimited(
                    f"local rate limit {self.spec.requests}/{self.spec.per_seconds}s is full",
                    retry_after=round(wait, 3),
                    policy="SHARED_LIMITER",
                    status=None,
                )
            self._sleep(wait)
            waited += wait
