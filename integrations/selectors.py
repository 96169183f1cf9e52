"""Reads about connections."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection as db_connection
from django.utils import timezone

from integrations.hot_path import columns_select, instance_from_row
from integrations.models import Connection, RequestLog

_INTAKE_COLUMNS = columns_select(
    Connection, ["id", "name", "provider", "auth_type", "options", "token", "client_secret"]
)


def connection_for_intake(*, name: str, provider: str) -> Connection | None:
    """The source connection a webhook names, with what verifying a request needs (secrets
    decrypted), in one statement not compiled per request (integrations/hot_path.py). Other
    fields load when read."""
    quote = db_connection.ops.quote_name
    meta = Connection._meta
    sql = (
        f"SELECT {_INTAKE_COLUMNS.sql('c')} FROM {quote(meta.db_table)} c "  # noqa: S608 - names from the model
        f"WHERE c.{quote(meta.get_field('name').column)} = %s "
        f"AND c.{quote(meta.get_field('provider').column)} = %s"
    )
    with db_connection.cursor() as cursor:
        cursor.execute(sql, [name, provider])
        row = cursor.fetchone()
    return None if row is None else instance_from_row(_INTAKE_COLUMNS, row, db=db_connection)


def connection_quota_used(*, connection: Connection) -> float | None:
    """Share of the provider's current rate-limit window already used, from the last call's
    rate-limit headers (HubSpot's X-HubSpot-RateLimit-Remaining/-Max), or from our own count of
    calls in the window when the provider sends none."""
    window = timedelta(seconds=connection.rate_limit_seconds or 10)
    since = timezone.now() - window
    # Every connection to one HubSpot portal spends the same budget (registry.limiter_key_for).
    sharing = (
        Connection.objects.filter(provider=connection.provider, portal_id=connection.portal_id)
        if connection.provider == "hubspot" and connection.portal_id
        else Connection.objects.filter(pk=connection.pk)
    )
    last = (
        RequestLog.objects.filter(
            connection__in=sharing, created_at__gte=since, rate_limit_max__gt=0
        )
        .order_by("-id")
        .only("rate_limit_remaining", "rate_limit_max")
        .first()
    )
    if last is not None and last.rate_limit_remaining is not None:
        return max(0.0, 1 - last.rate_limit_remaining / last.rate_limit_max)
    if connection.rate_limit_requests:
        count = RequestLog.objects.filter(connection__in=sharing, created_at__gte=since).count()
        return min(1.0, count / connection.rate_limit_requests)
    return None
