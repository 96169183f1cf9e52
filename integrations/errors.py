"""Typed provider errors.

Every client raises one of these, never an httpx exception, so a Celery task decides with two
attributes: ``permanent`` (dead-letter / disable, do not retry) and ``retry_after`` (countdown).

Messages are built by us and never carry secrets, URLs with keys, request bodies or e-mail
addresses: they end up in logs, the admin and Sentry. Parsed provider detail that the caller
needs (ids that failed, offending values) lives in ``context`` and is for the dead-letter queue,
not for logs.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from config.redaction import redact_emails


def redact(text: str, secrets: tuple[str, ...] | list[str] = ()) -> str:
    """Remove e-mail addresses and known secret values from a provider-supplied message."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "****")
    return redact_emails(text)


class ProviderError(Exception):
    """Base class. ``kind`` is a stable short name used as the request-log error category."""

    kind = "error"
    default_permanent = False

    def __init__(
        self,
        message: str,
        *,
        permanent: bool | None = None,
        status: int | None = None,
        category: str | None = None,
        retry_after: float | None = None,
        context: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = self.default_permanent if permanent is None else permanent
        self.status = status
        self.category = category
        self.retry_after = retry_after
        self.context = context or {}

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, status={self.status}, "
            f"permanent={self.permanent}, retry_after={self.retry_after})"
        )


class AuthFailed(ProviderError):
    """401 or a rejected OAuth grant: the credential is wrong or revoked. Fix the connection."""

    kind = "auth_failed"
    default_permanent = True


class MissingScope(ProviderError):
    """403: the credential works but lacks a scope or feature (HubSpot: "not a revoked token")."""

    kind = "missing_scope"
    default_permanent = True

    def __init__(self, message: str, *, scope: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.scope = scope


class RateLimited(ProviderError):
    """429 (and HubSpot's 423). ``daily`` means the account's day budget is spent: pause the
    connection until ``retry_after`` instead of retrying (docs/reference/reliability.md#retries-and-backoff)."""

    kind = "rate_limited"

    def __init__(
        self,
        message: str,
        *,
        policy: str | None = None,
        daily: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("status", 429)
        super().__init__(message, **kwargs)
        self.policy = policy
        self.daily = daily


class Unreachable(ProviderError):
    """DNS failure, connection refused or reset: nothing (or not all) was received."""

    kind = "unreachable"


class TimedOut(ProviderError):
    kind = "timed_out"


class ServerError(ProviderError):
    """5xx and provider-specific "come back later" codes (HubSpot 477, 52x)."""

    kind = "server_error"


class RequestRejected(ProviderError):
    """Any other 4xx: our request is wrong; repeating it cannot help."""

    kind = "rejected"
    default_permanent = True


def seconds_until_midnight(now: datetime, timezone: str = "UTC") -> float:
    """Seconds from ``now`` (aware) to the next midnight in ``timezone``.

    HubSpot's daily limit "resets at midnight in the account's time zone" (docs/reference/hubspot.md#rate-limits).
    """
    local = now.astimezone(ZoneInfo(timezone))
    next_midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    # Compare in UTC so a DST change on the way does not skew the figure.
    return max(1.0, (next_midnight.astimezone(ZoneInfo("UTC")) - now).total_seconds())


def seconds_until_next(now: datetime, unit: str) -> float:
    """Seconds to the next UTC minute/hour boundary (Apollo's fixed windows, docs/reference/apollo.md#rate-limits)."""
    now = now.astimezone(ZoneInfo("UTC"))
    if unit == "minute":
        boundary = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    elif unit == "hour":
        boundary = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    else:
        return seconds_until_midnight(now)
    return max(1.0, (boundary - now).total_seconds())
