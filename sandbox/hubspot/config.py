"""The sandbox's knobs: one dataclass, settable from the constructor and at runtime
(``POST /__sandbox__/config``), plus the seeded fault draw."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field, fields
from typing import Any
from zoneinfo import ZoneInfo

# Kinds of injected fault. Status codes are those of docs/reference/hubspot.md#errors (423 Locked for
# high-volume upserts, 477 Migration in Progress with Retry-After, 5xx processing limits).
FAULT_KINDS = ("429", "423", "477", "500", "502", "503", "504", "timeout")
BATCH_ERROR_MODES = ("auto", "whole_batch_400", "per_input_207_with_trace_id")
TIMEOUT_MODES = ("504", "drop")


@dataclass
class SandboxConfig:
    # Professional/Enterprise private app (docs/reference/hubspot.md#rate-limits)
    rate_limit: int = 190
    window_seconds: float = 10.0
    search_per_second: int = 5  # docs/reference/hubspot.md#search
    daily_limit: int | None = 1_000_000  # Enterprise; None = unlimited
    latency_ms: float = 0.0
    fault_rates: dict[str, float] = field(default_factory=dict)
    timeout_seconds: float = 5.0  # how long a "timeout" fault sleeps
    timeout_mode: str = "504"  # "504" answers 504 after the sleep; "drop" closes
    timeout_after_write: bool = False  # apply the write, then time out ("applied but lost")
    batch_error_mode: str = "auto"
    tokens: set[str] | None = None  # None = any non-empty bearer token
    missing_scopes: set[str] = field(default_factory=set)
    search_lag_ms: float = 0.0  # search is eventually consistent (docs/reference/hubspot.md#search)
    # docs/reference/hubspot.md#rate-limits: headers said to be absent on search
    search_rate_headers: bool = False
    # docs/reference/hubspot.md#rate-limits: Retry-After not promised on CRM 429s
    retry_after_on_429: bool = False
    # or OBJECT_ALREADY_EXISTS (newer 409, docs/reference/hubspot.md#batch-endpoints)
    conflict_category: str = "CONFLICT"
    access_token_ttl: int = 1800  # docs/reference/hubspot.md#oauth: expires_in = 1800 s
    portal_id: int = 62515
    # The account's time zone (account-info's timeZone): where the daily limit resets.
    time_zone: str = "US/Eastern"
    # Results carry their input's objectWriteTraceId (docs/reference/hubspot.md#batch-endpoints); off to exercise the fallback.
    echo_trace_ids: bool = True

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial config; unknown keys or bad values raise ValueError."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        for key, value in changes.items():
            if key in ("tokens", "missing_scopes") and value is not None:
                value = set(value)
            if key == "fault_rates":
                value = dict(value or {})
                bad = set(value) - set(FAULT_KINDS)
                if bad:
                    raise ValueError(f"unknown fault kinds {sorted(bad)}; use {FAULT_KINDS}")
                if sum(value.values()) > 1 or any(v < 0 for v in value.values()):
                    raise ValueError("fault rates must be >= 0 and sum to at most 1")
            if key == "batch_error_mode" and value not in BATCH_ERROR_MODES:
                raise ValueError(f"batch_error_mode must be one of {BATCH_ERROR_MODES}")
            if key == "time_zone":
                ZoneInfo(value)  # an unknown zone raises here, not at the next daily reset
            if key == "timeout_mode" and value not in TIMEOUT_MODES:
                raise ValueError(f"timeout_mode must be one of {TIMEOUT_MODES}")
            setattr(self, key, value)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["tokens"] = None if self.tokens is None else sorted(self.tokens)
        data["missing_scopes"] = sorted(self.missing_scopes)
        return data


def draw_fault(rng: random.Random, rates: dict[str, float]) -> str | None:
    """One draw per request from the seeded generator, so a run's faults are reproducible."""
    if not rates:
        return None
    roll = rng.random()
    edge = 0.0
    for kind in FAULT_KINDS:
        edge += rates.get(kind, 0.0)
        if roll < edge:
            return kind
    return None
