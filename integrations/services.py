"""Writing connections: secrets, status, key rotation. Every change is audited, never a value."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.mail import mail_admins
from django.db import connection as db_connection
from django.db import transaction
from django.forms.models import model_to_dict
from django.utils import timezone

from audit.services import audit_event_record
from integrations import crypto
from integrations.base_url import base_url_validate
from integrations.hubspot.client import DATE_VERSION
from integrations.models import AuthType, Connection, ConnectionStatus

logger = logging.getLogger(__name__)

_AUDITED_FIELDS = (
    "name",
    "provider",
    "environment",
    "auth_type",
    "base_url",
    "connect_timeout",
    "read_timeout",
    "max_attempts",
    "rate_limit_requests",
    "rate_limit_seconds",
    "options",
    "status",
)


def _snapshot(connection: Connection) -> dict[str, Any]:
    if connection.pk is None:
        return {}
    return {k: v for k, v in model_to_dict(connection, fields=_AUDITED_FIELDS).items()}


def connection_save(
    *,
    connection: Connection,
    secrets: dict[str, str | None] | None = None,
    actor: Any = None,
    actor_label: str = "",
    request: Any = None,
    before: dict[str, Any] | None = None,
) -> Connection:
    """Validate and save a connection; set the secrets given (empty or None keeps the stored one).

    The audit diff lists which secrets changed, never their values.
    """
    is_new = connection.pk is None
    if before is None:
        before = {} if is_new else _snapshot(Connection.objects.get(pk=connection.pk))
    if connection.base_url:
        base_url_validate(connection.base_url)
    version = str((connection.options or {}).get("api_version") or "v3")
    if connection.provider == "hubspot" and version != "v3" and not DATE_VERSION.fullmatch(version):
        raise ValidationError(
            f"HubSpot API version {version!r}: use v3 or a date version such as 2026-03"
        )
    changed_secrets = []
    for field, value in (secrets or {}).items():
        if field not in Connection.SECRET_FIELDS:
            raise ValidationError(f"{field} is not a secret field of a connection")
        if value:
            setattr(connection, field, value)
            # Four characters identify a long token; for a short secret they would give too much away.
            hint = value[-4:] if len(value) >= 16 else ""
            connection.secret_hints = {**connection.secret_hints, field: hint}
            changed_secrets.append(field)
    if changed_secrets:
        connection.credentials_updated_at = timezone.now()
        fixable = (ConnectionStatus.NEEDS_RECONNECT, ConnectionStatus.NEEDS_ATTENTION)
        if connection.status in fixable and "token" in changed_secrets:
            connection.status = ConnectionStatus.ACTIVE
            connection.status_message = ""
            connection.status_message = ""
    connection.full_clean(exclude=[*Connection.SECRET_FIELDS])
    with transaction.atomic():
        connection.save()
        after = _snapshot(connection)
        diff = {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
        for field in changed_secrets:
            diff[field] = ["••••", "•••• (changed)"]
        if is_new or diff:
            audit_event_record(
                action="connection.created" if is_new else "connection.changed",
                actor=actor,
                actor_label=actor_label,
                obj=connection,
                changes=diff,
                request=request,
            )
        if changed_secrets:
            audit_event_record(
                action="connection.credentials_changed",
                actor=actor,
                actor_label=actor_label,
                obj=connection,
                metadata={"fields": changed_secrets},
                request=request,
            )
    return connection


def connection_delete(*, connection: Connection, actor: Any = None, request: Any = None) -> None:
    with transaction.atomic():
        audit_event_record(
            action="connection.deleted",
            actor=actor,
            obj=connection,
            changes={k: [v, None] for k, v in _snapshot(connection).items()},
            request=request,
        )
        connection.delete()


def connection_mark_needs_reconnect(*, connection_id: int, reason: str) -> None:
    """A refresh token was refused: stop using the connection and tell a human, loudly."""
    Connection.objects.filter(pk=connection_id).update(
        status=ConnectionStatus.NEEDS_RECONNECT,
        status_message=reason[:300],
        updated_at=timezone.now(),
    )
    connection = Connection.objects.get(pk=connection_id)
    audit_event_record(
        action="connection.needs_reconnect",
        actor_label="system:oauth",
        obj=connection,
        metadata={"reason": reason[:300]},
    )
    logger.error("connection %s needs reconnecting: %s", connection.name, reason)
    # Every sync through this connection stops until someone reconnects: tell a human now.
    mail_admins(
        f"{connection.name} needs reconnecting",
        f"{reason}\n\nOpen the connection and press Connect.",
        fail_silently=True,
    )


def connection_mark_needs_attention(*, connection_id: int, reason: str) -> bool:
    """The provider says the destination is gone (a revoked Slack webhook, an archived or
    deleted channel): stop calling it and tell a human. False when it was already marked,
    so one dead destination raises one alert, not one per message."""
    marked = (
        Connection.objects.filter(pk=connection_id)
        .exclude(status=ConnectionStatus.NEEDS_ATTENTION)
        .update(
            status=ConnectionStatus.NEEDS_ATTENTION,
            status_message=reason[:300],
            updated_at=timezone.now(),
        )
    )
    if not marked:
        return False
    connection = Connection.objects.get(pk=connection_id)
    audit_event_record(
        action="connection.needs_attention",
        actor_label="system:notifications",
        obj=connection,
        metadata={"reason": reason[:300]},
    )
    logger.error("connection %s needs attention: %s", connection.name, reason)
    mail_admins(
        f"{connection.name} needs attention",
        f"{reason}\n\nFix the connection (a new webhook URL, or the channel), then press Test "
        "connection: notifications through it are stopped until then.",
        fail_silently=True,
    )
    return True


def connection_portal_record(*, connection_id: int, portal_id: str, time_zone: str) -> bool:
    """Store the HubSpot portal a connection reaches and its time zone (account-info).
    True when either changed; the change is audited, since it moves the connection onto
    another portal's shared rate-limit budget."""
    connection = Connection.objects.get(pk=connection_id)
    before = {"portal_id": connection.portal_id, "portal_timezone": connection.portal_timezone}
    after = {
        "portal_id": portal_id or connection.portal_id,
        "portal_timezone": time_zone or connection.portal_timezone,
    }
    if after == before:
        return False
    Connection.objects.filter(pk=connection_id).update(**after, updated_at=timezone.now())
    audit_event_record(
        action="connection.portal_learned",
        actor_label="system:hubspot",
        obj=connection,
        changes={k: [before[k], after[k]] for k in after if after[k] != before[k]},
    )
    return True


def connection_pause(*, connection_id: int, until: datetime, reason: str) -> None:
    """A daily quota is spent: no call until `until`, instead of spinning on 429s. HubSpot
    counts private apps' daily calls per account ("daily API usage for private apps in the
    account", docs/connections.md), so every private-app connection to the same portal
    pauses with it; OAuth apps have no daily limit and go on."""
    connection = Connection.objects.filter(pk=connection_id).first()
    paused = Connection.objects.filter(pk=connection_id)
    if (
        connection is not None
        and connection.provider == "hubspot"
        and connection.portal_id
        and connection.auth_type == AuthType.PRIVATE_APP
    ):
        siblings = Connection.objects.filter(
            provider="hubspot",
            portal_id=connection.portal_id,
            auth_type=AuthType.PRIVATE_APP,
            status__in=(ConnectionStatus.ACTIVE, ConnectionStatus.WAITING_FOR_QUOTA),
        )  # one needing a reconnect or attention keeps saying so
        paused = paused | siblings
    paused.update(
        status=ConnectionStatus.WAITING_FOR_QUOTA,
        paused_until=until,
        status_message=reason[:300],
        updated_at=timezone.now(),
    )
    logger.warning("connection %s paused until %s: %s", connection_id, until.isoformat(), reason)


@dataclass
class RotationReport:
    rotated: int
    already_current: int


def connections_rotate_keys(*, actor_label: str = "command:rotate_keys") -> RotationReport:
    """Re-encrypt every stored secret with the first key of FIELD_ENCRYPTION_KEYS.

    One row per transaction, and rows already under the first key are skipped: interrupting
    it loses nothing (each row is either old-key or new-key, both readable) and a rerun
    finishes the rest.
    """
    rotated = current = 0
    columns = ", ".join(Connection.SECRET_FIELDS)
    table = Connection._meta.db_table
    for pk in Connection.objects.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            with db_connection.cursor() as cursor:
                # Raw read: the model field would decrypt, and we need to know which key encrypted.
                cursor.execute(f"SELECT {columns} FROM {table} WHERE id = %s", [pk])  # noqa: S608
                row = cursor.fetchone()
            stored = [value for value in (row or ()) if value]
            if all(crypto.is_current(value) for value in stored):
                current += 1
                continue
            updates = [crypto.rotate(value) if value else "" for value in row]
            assignments = ", ".join(f"{column} = %s" for column in Connection.SECRET_FIELDS)
            with db_connection.cursor() as cursor:
                cursor.execute(f"UPDATE {table} SET {assignments} WHERE id = %s", [*updates, pk])  # noqa: S608
            rotated += 1
    audit_event_record(
        action="keys.rotated",
        actor_label=actor_label,
        metadata={"rotated": rotated, "already_current": current},
    )
    return RotationReport(rotated=rotated, already_current=current)
