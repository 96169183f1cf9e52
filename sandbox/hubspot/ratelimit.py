"""Exact rolling-window rate limits, the search per-second limit and the daily budget.

docs/reference/hubspot.md#rate-limits / docs/reference/reliability.md#rate-limiter: burst limit N per rolling 10 s per app,
daily budget per account (none for OAuth calls), search 5/s per account with its own
SECONDLY policy and no charge against the 10 s bucket (docs/reference/hubspot.md#search "x-hubspot-rate-limit-exemptions").
A request that is refused is not counted.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections import deque
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo


@dataclass
class Verdict:
    allowed: bool
    policy: str | None = None  # TEN_SECONDLY_ROLLING | SECONDLY | DAILY when refused
    remaining: int = 0
    retry_after: float = 0.0


class RateLimits:
    """Sliding-window logs (exact, not a token bucket: docs/reference/reliability.md#rate-limiter)."""

    def __init__(
        self,
        rate_limit: int,
        window_seconds: float,
        search_per_second: int,
        daily_limit: int | None,
        time_zone: str = "UTC",
    ) -> None:
        self.time_zone = time_zone
        self.rate_limit = rate_limit
        self.window_seconds = window_seconds
        self.search_per_second = search_per_second
        self.daily_limit = daily_limit
        self.reset()

    def reset(self) -> None:
        self._windows: dict[str, list[float]] = {}  # arrival times, sorted
        self._search: deque[float] = deque()
        self.daily_used = 0
        self._day = self._today()

    def _today(self) -> date:
        # HubSpot resets at midnight in the account's time zone (the sandbox's time_zone).
        return datetime.now(ZoneInfo(self.time_zone)).date()

    def _roll_day(self) -> None:
        today = self._today()
        if today != self._day:
            self._day, self.daily_used = today, 0

    def daily_remaining(self) -> int | None:
        self._roll_day()
        if self.daily_limit is None:
            return None
        return max(self.daily_limit - self.daily_used, 0)

    def burst_used(self, key: str, now: float) -> int:
        """Requests counted in the rolling window ending at ``now``: arrivals in
        (now - window, now]. Requests are handled in parallel after their latency, so they
        are not counted in arrival order; the log is kept sorted, or a request handled late
        would stay counted after its window had passed (and refuse calls HubSpot admits)."""
        window = self._windows.get(key)
        if not window:
            return 0
        # Arrivals older than the window plus a second of slack are no longer needed.
        del window[: bisect_right(window, now - self.window_seconds - 1.0)]
        return bisect_right(window, now) - bisect_right(window, now - self.window_seconds)

    def admit(self, key: str, now: float, *, search: bool, daily: bool) -> Verdict:
        """Charge one request to the right buckets, or say which policy refuses it."""
        self._roll_day()
        if daily and self.daily_limit is not None and self.daily_used >= self.daily_limit:
            return Verdict(False, "DAILY", 0, _seconds_to_midnight(self.time_zone))
        if search:
            while self._search and self._search[0] <= now - 1.0:
                self._search.popleft()
            if len(self._search) >= self.search_per_second:
                return Verdict(False, "SECONDLY", 0, self._search[0] + 1.0 - now)
            self._search.append(now)
            remaining = self.search_per_second - len(self._search)
        else:
            used = self.burst_used(key, now)
            window = self._windows.setdefault(key, [])
            if used >= self.rate_limit:
                oldest = window[bisect_right(window, now - self.window_seconds)]
                return Verdict(False, "TEN_SECONDLY_ROLLING", 0, oldest + self.window_seconds - now)
            insort(window, now)
            remaining = self.rate_limit - used - 1
        if daily:
            self.daily_used += 1
        return Verdict(True, None, remaining)

    def headers(self, key: str, now: float, *, daily: bool) -> list[tuple[str, str]]:
        """The X-HubSpot-RateLimit-* headers (docs/reference/hubspot.md#rate-limits); daily ones not for OAuth."""
        out = [
            ("X-HubSpot-RateLimit-Max", str(self.rate_limit)),
            (
                "X-HubSpot-RateLimit-Remaining",
                str(max(self.rate_limit - self.burst_used(key, now), 0)),
            ),
            ("X-HubSpot-RateLimit-Interval-Milliseconds", str(int(self.window_seconds * 1000))),
        ]
        remaining = self.daily_remaining()
        if daily and remaining is not None and self.daily_limit is not None:
            out += [
                ("X-HubSpot-RateLimit-Daily", str(self.daily_limit)),
                ("X-HubSpot-RateLimit-Daily-Remaining", str(remaining)),
            ]
        return out


def _seconds_to_midnight(time_zone: str) -> float:
    now = datetime.now(ZoneInfo(time_zone))
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.timestamp() - now.timestamp()


def rate_limit_body(policy: str, correlation: str, request_id: str) -> dict[str, str]:
    """429 bodies of docs/reference/hubspot.md#rate-limits: the documented errorType/policyName form, plus the
    newer ``category: RATE_LIMITS`` field, so a client must cope with both."""
    message = {
        "DAILY": "You have reached your daily limit.",
        "SECONDLY": "You have reached your secondly limit.",
        "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
    }[policy]
    return {
        "status": "error",
        "message": message,
        "errorType": "RATE_LIMIT",
        "correlationId": correlation,
        "policyName": policy,
        "requestId": request_id,
        "category": "RATE_LIMITS",
    }
