"""Workflow and integration figures computed from runs, batches and the request log.

Read-only. Shared by the operations home, the alert checks and /metrics so each number has
one definition (docs/quality.md and docs/operations.md give the formulas).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from integrations.models import Connection, ConnectionStatus, RequestLog


@dataclass(frozen=True)
class Quota:
    connection: str
    provider: str
    window: str  # "10-second" or "daily"
    used_percent: float | None
    remaining: int | None
    limit: int | None
    read_at: datetime | None


QUOTA_FRESH = timedelta(minutes=2)


def quota_for_connection(*, connection: Connection, now: datetime) -> Quota:
    """Share of the provider's rate limit in use: a connection paused for its daily quota is
    at 100 % of its daily budget; otherwise the newest rate-limit headers logged in the last
    two minutes give the 10-second window's use, (max - remaining) / max."""
    if connection.status == ConnectionStatus.WAITING_FOR_QUOTA:
        return Quota(connection.name, connection.provider, "daily", 100.0, 0, None, now)
    last = (
        RequestLog.objects.filter(
            connection=connection,
            created_at__gte=now - QUOTA_FRESH,
            rate_limit_max__isnull=False,
            rate_limit_remaining__isnull=False,
        )
        .order_by("-created_at")
        .only("rate_limit_max", "rate_limit_remaining", "created_at")
        .first()
    )
    if last is None or not last.rate_limit_max:
        return Quota(connection.name, connection.provider, "10-second", None, None, None, None)
    used = max(0, last.rate_limit_max - last.rate_limit_remaining)
    return Quota(
        connection.name,
        connection.provider,
        "10-second",
        round(100.0 * used / last.rate_limit_max, 1),
        last.rate_limit_remaining,
        last.rate_limit_max,
        last.created_at,
    )
