"""From a Connection to the client of its provider.

One entry per provider: where its client lives (imported lazily, so a broken optional
provider cannot stop the others from loading) and how its credential is presented. Clients
know nothing of Django; everything connection-specific (base URL, timeouts, the shared rate
limit key, the request log) is decided here.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from typing import Any

import httpx
from django.conf import settings
from django.utils import timezone

from integrations.auth import BasicAuth, BearerAuth, HeaderAuth, NoAuth, QueryKeyAuth
from integrations.base_url import base_url_for, base_url_validate
from integrations.errors import RateLimited, RequestRejected
from integrations.models import AuthType, Connection, ConnectionStatus, RequestLog
from integrations.oauth import OAuthConnectionAuth
from integrations.ratelimit import RateLimitSpec, SharedRateLimit
from integrations.transport import ClientConfig, RequestRecord

logger = logging.getLogger(__name__)

PROVIDERS: dict[str, str] = {
    "hubspot": "integrations.hubspot.client.HubSpotClient",
    "apollo": "integrations.apollo.client.ApolloClient",
    "slack": "integrations.slack.client.SlackClient",
    "builtwith": "integrations.builtwith.client.BuiltWithClient",
    "clearbit": "integrations.clearbit.client.ClearbitClient",
    "http": "integrations.http.client.HttpJsonClient",
    "clay": "integrations.clay.client.ClayTableClient",  # outbound: rows into a table webhook
}

# HubSpot's limits when the connection sets none (docs/connections.md): 100 per 10 s on
# Free/Starter private apps (the safe floor), 110 per 10 s for public OAuth apps; search has
# its own 5 per second that does not count against the 10-second window.
DEFAULT_RATE_LIMITS: dict[tuple[str, str], RateLimitSpec] = {
    ("hubspot", AuthType.PRIVATE_APP): RateLimitSpec(100, 10),
    ("hubspot", AuthType.OAUTH): RateLimitSpec(110, 10),
}
HUBSPOT_SEARCH_LIMIT = RateLimitSpec(5, 1)

# Tests and the demo may route clients through in-process transports (a stand-in served as a
# WSGI app) instead of a port. Production never sets either. A provider's own entry in
# TRANSPORT_OVERRIDES wins over the catch-all TRANSPORT_OVERRIDE, so one test can serve
# HubSpot from its sandbox and Slack from the Slack stand-in at the same time.
TRANSPORT_OVERRIDE: httpx.BaseTransport | None = None
TRANSPORT_OVERRIDES: dict[str, httpx.BaseTransport] = {}


def transport_override_for(provider: str) -> httpx.BaseTransport | None:
    """The in-process transport tests or the demo installed for this provider, if any."""
    return TRANSPORT_OVERRIDES.get(provider) or TRANSPORT_OVERRIDE


def _import(dotted: str) -> type:
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def connection_auth(connection: Connection) -> Any:
    kind = connection.auth_type
    if kind == AuthType.OAUTH:
        return OAuthConnectionAuth(connection.pk)
    if kind in (AuthType.PRIVATE_APP, AuthType.BEARER):
        return BearerAuth(connection.token)
    if kind == AuthType.API_KEY:
        if connection.provider == "builtwith":
            return QueryKeyAuth(connection.token)  # BuiltWith takes the key only in the query
        return HeaderAuth(connection.options.get("header", "X-Api-Key"), connection.token)
    if kind == AuthType.BASIC:
        return BasicAuth(connection.options.get("username", ""), connection.token)
    if kind == AuthType.HEADER_TOKEN:
        return HeaderAuth(connection.options.get("header", "Authorization"), connection.token)
    return NoAuth()


# While a caller holds a buffer (request_logs_buffered), request-log rows are kept in memory
# and written with the caller's own writes, in one INSERT and one commit, instead of one commit
# per call: the event hub's deliveries record a batch of sends this way (docs/events.md,
# "Benchmark").
_LOG_BUFFER: ContextVar[list[RequestLog] | None] = ContextVar("request_log_buffer", default=None)


@contextmanager
def request_logs_buffered() -> Iterator[list[RequestLog]]:
    """Collect the request-log rows of the calls made inside; request_logs_flush writes them.
    Rows still buffered when the block ends are written then."""
    buffer: list[RequestLog] = []
    token = _LOG_BUFFER.set(buffer)
    try:
        yield buffer
    finally:
        _LOG_BUFFER.reset(token)
        request_logs_flush(buffer)


def request_logs_flush(buffer: list[RequestLog]) -> None:
    if not buffer:
        return
    try:
        RequestLog.objects.bulk_create(buffer)
    except Exception:  # the log must never fail the calls it describes
        logger.exception("could not write %s request log rows", len(buffer))
    buffer.clear()


def _request_logger(connection_id: int) -> Callable[[RequestRecord], None]:
    def record(entry: RequestRecord) -> None:
        try:
            row = RequestLog(
                connection_id=connection_id,
                method=entry.method,
                path_template=entry.path_template[:200],
                status=entry.status,
                duration_ms=round(entry.duration_ms),
                attempt=entry.attempt,
                rate_limit_remaining=entry.rate_limit_remaining,
                rate_limit_max=entry.rate_limit_max,
                daily_remaining=entry.daily_remaining,
                daily_max=entry.daily_max,
                error_category=(entry.error_category or "")[:60],
            )
            buffer = _LOG_BUFFER.get()
            if buffer is not None:
                buffer.append(row)
            else:
                row.save(force_insert=True)
        except Exception:  # the log must never fail the call it describes
            logger.exception("could not write the request log for connection %s", connection_id)

    return record


def client_config_for(connection: Connection) -> ClientConfig:
    base_url = base_url_for(connection.provider, connection.base_url)
    base_url_validate(base_url)  # again at use: DNS may have changed since the connection was saved
    if connection.rate_limit_requests and connection.rate_limit_seconds:
        rate = RateLimitSpec(connection.rate_limit_requests, connection.rate_limit_seconds)
    else:
        rate = DEFAULT_RATE_LIMITS.get((connection.provider, connection.auth_type))
    return ClientConfig(
        base_url=base_url,
        connect_timeout=connection.connect_timeout,
        read_timeout=connection.read_timeout,
        max_attempts=connection.max_attempts,
        rate_limit=rate,
        search_rate_limit=HUBSPOT_SEARCH_LIMIT if connection.provider == "hubspot" else None,
        limiter_key=limiter_key_for(connection),
        limiter_url=settings.REDIS_URL or None,
        timezone=connection.portal_timezone or connection.options.get("timezone") or "UTC",
    )


def budget_for(connection: Connection) -> SharedRateLimit | None:
    """The shared rate limit (budget) calls through ``connection`` spend, to ask whether a
    slot is free without taking one; None when the provider has no limit we keep."""
    config = client_config_for(connection)
    if config.rate_limit is None:
        return None
    return SharedRateLimit(config.limiter_url, config.rate_limit, config.limiter_key)


def limiter_key_for(connection: Connection) -> str:
    """The Redis key of the shared rate limit. HubSpot counts calls per portal, so every
    connection to one portal (a private app for syncs, an OAuth app for routing) shares one
    budget: ``switchyard:ratelimit:portal:<portal id>``. Until the portal is known (learned
    at Test connection or Connect), and for other providers, the connection's own budget:
    ``switchyard:ratelimit:connection:<connection id>``. Search adds ``:search``."""
    if connection.provider == "hubspot" and connection.portal_id:
        return f"switchyard:ratelimit:portal:{connection.portal_id}"
    return f"switchyard:ratelimit:connection:{connection.pk}"


def connection_check_usable(connection: Connection) -> None:
    """Refuse to call a connection paused for its daily quota (un-pause it once the reset
    passed) or one whose destination the provider said is gone."""
    if connection.status == ConnectionStatus.NEEDS_ATTENTION:
        raise RequestRejected(
            f"{connection.name} needs attention: {connection.status_message or 'see the connection'}",
            category="needs_attention",
        )
    if connection.status != ConnectionStatus.WAITING_FOR_QUOTA:
        return
    now = timezone.now()
    if connection.paused_until and connection.paused_until > now:
        raise RateLimited(
            f"{connection.name} is waiting for its daily quota to reset",
            retry_after=(connection.paused_until - now).total_seconds(),
            daily=True,
        )
    Connection.objects.filter(pk=connection.pk, status=ConnectionStatus.WAITING_FOR_QUOTA).update(
        status=ConnectionStatus.ACTIVE, paused_until=None, status_message=""
    )
    connection.status = ConnectionStatus.ACTIVE


def client_given_or_new(
    connection: Connection, *, given: Any = None, **options: Any
) -> AbstractContextManager[Any]:
    """For ``with``: the caller's own client, left open for its owner, or a new client for
    the connection, closed on exit."""
    if given is not None:
        return nullcontext(given)
    return client_for(connection, **options)


def client_for(
    connection: Connection,
    *,
    transport: httpx.BaseTransport | None = None,
    max_retry_wait: float | None = None,
    max_attempts: int | None = None,
    probe: bool = False,
) -> Any:
    """The provider's client for this connection, with its auth, limits and request log.
    ``max_retry_wait`` caps in-process waits between retries; a longer one is raised with
    its ``retry_after`` for the caller (a Celery task) to reschedule. ``max_attempts=1``
    leaves retries to a caller that schedules them itself (event-hub deliveries).
    ``probe=True`` (Test connection) reaches a connection marked *needs attention*, to learn
    whether it was fixed."""
    if connection.provider == "warehouse":
        from integrations.warehouse.client import WarehouseClient

        return WarehouseClient(
            connection.token,
            connect_timeout=connection.connect_timeout,
            allowed_schemas=tuple(settings.WAREHOUSE_ALLOWED_SCHEMAS),
            table_prefixes=tuple(settings.WAREHOUSE_TABLE_PREFIXES),
        )
    if connection.provider not in PROVIDERS:
        raise ValueError(f"{connection.provider} connections have no outbound client")
    if not (probe and connection.status == ConnectionStatus.NEEDS_ATTENTION):
        connection_check_usable(connection)
    dotted = PROVIDERS[connection.provider]
    if connection.provider == "slack" and connection.auth_type == AuthType.WEBHOOK_URL:
        dotted = "integrations.slack.client.SlackWebhookClient"
    client_class = _import(dotted)
    config = client_config_for(connection)
    if max_retry_wait is not None:
        config = dataclasses.replace(config, max_retry_wait=max_retry_wait)
    if max_attempts is not None:
        config = dataclasses.replace(config, max_attempts=max_attempts)
    if dotted.endswith("SlackWebhookClient"):
        # The incoming-webhook URL is the credential; it is stored encrypted, never as base_url.
        base_url_validate(connection.token)
        config = dataclasses.replace(config, base_url=connection.token)
    extra: dict[str, Any] = {}
    if connection.provider == "hubspot":
        extra["api_version"] = str(connection.options.get("api_version") or "v3")
    return client_class(
        config,
        connection_auth(connection),
        transport=transport or transport_override_for(connection.provider),
        on_request=_request_logger(connection.pk),
        **extra,
    )
