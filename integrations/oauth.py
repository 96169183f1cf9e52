"""HubSpot OAuth 2.0 for a connection: connect, store tokens, refresh ahead of expiry.

HubSpot access tokens live 30 minutes (`expires_in`); "Unauthorized (401) requests are not a
valid indicator that a new access token must be retrieved", so we refresh from the expiry we
stored, a margin ahead of it (docs/reference/hubspot.md#oauth). Concurrent workers must not both refresh:
the refresh happens under a row lock on the connection, and the second worker, once it gets
the lock, finds a fresh token and uses it.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from integrations.errors import AuthFailed, ProviderError
from integrations.models import Connection, ConnectionStatus

logger = logging.getLogger(__name__)

REFRESH_MARGIN = timedelta(minutes=5)
DEFAULT_SCOPES = (
    "oauth",
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.companies.read",
    "crm.objects.companies.write",
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "crm.objects.owners.read",
    "crm.schemas.contacts.read",
    "crm.schemas.companies.read",
    "crm.schemas.deals.read",
)
SESSION_KEY = "switchyard_oauth_state"


def _oauth_module():
    from integrations.hubspot import oauth

    return oauth


def _transport():
    from integrations import registry

    return registry.transport_override_for("hubspot")


def _token_endpoint_base(connection: Connection) -> str:
    from integrations.base_url import base_url_for

    return base_url_for(connection.provider, connection.base_url)


def oauth_authorize_start(*, connection: Connection, redirect_uri: str, session: Any) -> str:
    """The authorize URL to send the admin to, with a one-time `state` kept in their session."""
    state = secrets.token_urlsafe(32)
    session[SESSION_KEY] = {"state": state, "connection_id": connection.pk}
    scopes = connection.options.get("scopes") or list(DEFAULT_SCOPES)
    return _oauth_module().authorize_url(
        client_id=connection.options.get("client_id", ""),
        redirect_uri=redirect_uri,
        scopes=scopes,
        state=state,
        base=connection.options.get("authorize_base", "https://app.hubspot.com"),
    )


def oauth_state_consume(*, session: Any, state: str) -> int | None:
    """The connection id the state was issued for, or None when it does not match (CSRF)."""
    expected = session.pop(SESSION_KEY, None)
    if not expected or not state or not secrets.compare_digest(expected["state"], state):
        return None
    return expected["connection_id"]


def oauth_code_exchange(
    *, connection_id: int, code: str, redirect_uri: str, actor: Any, request: Any = None
) -> Connection:
    from integrations.services import connection_save

    connection = Connection.objects.get(pk=connection_id)
    tokens = _oauth_module().exchange_code(
        base_url=_token_endpoint_base(connection),
        client_id=connection.options.get("client_id", ""),
        client_secret=connection.client_secret,
        code=code,
        redirect_uri=redirect_uri,
        transport=_transport(),
    )
    connection.access_token_expires_at = tokens.expires_at
    connection.status = ConnectionStatus.ACTIVE
    connection.status_message = ""
    if tokens.hub_id:  # the token names its portal: share that portal's rate limit at once
        connection.portal_id = str(tokens.hub_id)
    connection = connection_save(
        connection=connection,
        secrets={"access_token": tokens.access_token, "refresh_token": tokens.refresh_token},
        actor=actor,
        request=request,
    )
    _portal_learn(connection)
    return connection


def _portal_learn(connection: Connection) -> None:
    """The portal's time zone, for the daily reset. A failure here must not undo the connect:
    Test connection reads it again."""
    from integrations.connection_checks import hubspot_portal_learn
    from integrations.registry import client_for

    try:
        with client_for(connection) as client:
            hubspot_portal_learn(connection=connection, client=client)
    except ProviderError as error:
        logger.warning("could not read the portal details of %s: %s", connection.name, error)
    connection.refresh_from_db()


def _fresh(connection: Connection, now) -> bool:
    return bool(
        connection.access_token
        and connection.access_token_expires_at
        and connection.access_token_expires_at - REFRESH_MARGIN > now
    )


def oauth_access_token(*, connection_id: int) -> str:
    """A valid access token for the connection, refreshing it first when it is about to expire."""
    connection = Connection.objects.get(pk=connection_id)
    if connection.status == ConnectionStatus.NEEDS_RECONNECT:
        raise AuthFailed(
            f"Connection {connection.name} needs reconnecting to HubSpot", permanent=True
        )
    if _fresh(connection, timezone.now()):
        return connection.access_token

    failure: str | None = None
    with transaction.atomic():
        connection = Connection.objects.select_for_update().get(pk=connection_id)
        if _fresh(connection, timezone.now()):
            return connection.access_token  # another worker refreshed while we waited
        try:
            tokens = _oauth_module().refresh(
                base_url=_token_endpoint_base(connection),
                client_id=connection.options.get("client_id", ""),
                client_secret=connection.client_secret,
                refresh_token=connection.refresh_token,
                transport=_transport(),
            )
        except AuthFailed as exc:
            failure = f"HubSpot refused the refresh token: {exc.message}"
        else:
            connection.access_token = tokens.access_token
            if tokens.refresh_token:
                connection.refresh_token = tokens.refresh_token
            connection.access_token_expires_at = tokens.expires_at
            connection.save(
                update_fields=[
                    "access_token",
                    "refresh_token",
                    "access_token_expires_at",
                    "updated_at",
                ]
            )
            return tokens.access_token
    # Outside the transaction, so marking the connection is not rolled back with the refresh.
    from integrations.services import connection_mark_needs_reconnect

    connection_mark_needs_reconnect(connection_id=connection_id, reason=failure)
    raise AuthFailed(failure, permanent=True)


class OAuthConnectionAuth:
    """Auth for the HTTP transport: a fresh bearer token on every request."""

    def __init__(self, connection_id: int) -> None:
        self.connection_id = connection_id

    def headers(self) -> dict[str, str]:
        token = oauth_access_token(connection_id=self.connection_id)
        return {"Authorization": f"Bearer {token}"}

    def secrets(self) -> list[str]:
        return []  # tokens are registered with the log redaction when decrypted
