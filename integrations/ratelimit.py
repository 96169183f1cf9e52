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

import math
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
    """Calls we let through per window: the portal's limit less 2.5 % (none below 50 calls).

    We count a call when we acquire its slot, the portal when it arrives: a few to a hundred
    milliseconds later on a busy host, and not always in the same order. Without headroom the
    soak benchmark (bench/soak.py) saw 192 arrivals in a 10 s window of a 190 limit; with 2 %
    (187 of 190) and calls paced at 19 a second it still saw the sandbox refuse 2 calls in a
    soak of injected 429s, 500s and a killed pool process. Each refusal holds a batch back for
    the 10 s window. 2.5 % is 186 of 190: 97.9 % of the ceiling at most."""
    if spec.requests < 50:
        return spec.requests
    return spec.requests - spec.requests * 25 // 1000


PACE_SUFFIX = ":pace"


def pace_per_second(spec: RateLimitSpec) -> RateLimitItemPerSecond | None:
    """A second limit for a large window: at most its share of the window per second (19/s
    of 186 per 10 s). Without it the window is spent in bursts: 186 calls in the first two
    seconds, then nothing for eight, then the same burst again, and a burst's calls reach
    HubSpot spread by however late each one's thread ran, so a busy host overlapped two
    bursts in HubSpot's rolling window and got 429s despite our headroom (2 per 100k-row
    import on the end-to-end bench). Paced, the calls arrive evenly and the rate is at the
    limit from the first second. None for windows of a second or under 50 calls."""
    admitted = admitted_per_window(spec)
    if spec.per_seconds <= 1 or admitted < 50:
        return None
    return RateLimitItemPerSecond(math.ceil(admitted / spec.per_seconds), 1)


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
        admitted = admitted_per_window(spec)
        self._item = RateLimitItemPerSecond(admitted, spec.per_seconds)
        self._pace = pace_per_second(spec)
        self._limiter = MovingWindowRateLimiter(_storage(storage_url))
        self._sleep = sleep

    def try_acquire(self) -> bool:
        """Take a slot if one is free now; never waits. The pace is asked first: a pace slot
        taken when the window then refuses costs nothing, the other way round a window slot
        would be spent on a call never made."""
        if self._pace is not None and not self._limiter.hit(
            self._pace, "switchyard", self.key + PACE_SUFFIX
        ):
            return False
        return self._limiter.hit(self._item, "switchyard", self.key)

    def wait_time(self) -> float:
        """Seconds until a slot is free in the window and in the pace (0 if one is now)."""
        waits = [self._wait(self._item, self.key)]
        if self._pace is not None:
            waits.append(self._wait(self._pace, self.key + PACE_SUFFIX))
        return max(waits)

    def _wait(self, item: RateLimitItemPerSecond, key: str) -> float:
        stats = self._limiter.get_window_stats(item, "switchyard", key)
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
