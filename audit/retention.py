"""Retention: how long each kind of data is kept, and the purge that enforces it.

Days per kind come from `settings.SWITCHYARD_RETENTION_DAYS` over the defaults below. Floors
cannot be configured away: audit events are kept at least 365 days (SOC 2 evidence covers a
12-month observation window) and privacy-request records and events at least 730 days (the
CCPA regulations require keeping records of consumer requests for 24 months).

Apps register their purgeable kinds: `register_retention_kind("run_records", lambda cutoff:
RunRecord.objects.filter(created_at__lt=cutoff))`. The purge deletes in primary-key batches
so a large backlog neither holds a long lock nor loads millions of objects.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from audit.chain import PURGED_ACTION
from audit.models import AuditEvent, PrivacyRequest
from audit.services import audit_event_record

logger = logging.getLogger(__name__)

DEFAULT_RETENTION_DAYS = {
    "webhook_payloads": 30,
    "run_records": 180,
    "resolved_dead_letters": 90,
    "audit_events": 400,
    "privacy_requests": 730,
}
MINIMUM_DAYS = {"audit_events": 365, "privacy_requests": 730}
PRIVACY_ACTION_PREFIX = "privacy."
BATCH = 5000
AUDIT_BATCH = 50_000


@dataclass(frozen=True)
class RetentionKind:
    name: str
    count: Callable[[datetime], int]
    purge: Callable[[datetime], int]


_KINDS: dict[str, RetentionKind] = {}


def retention_days(kind: str) -> int:
    configured = {**DEFAULT_RETENTION_DAYS, **getattr(settings, "SWITCHYARD_RETENTION_DAYS", {})}
    if kind not in configured:
        raise KeyError(f"No retention period for {kind!r}; add it to SWITCHYARD_RETENTION_DAYS")
    days = int(configured[kind])
    floor = MINIMUM_DAYS.get(kind, 1)
    if days < floor:
        logger.warning(
            "retention for %s set to %s days; the floor of %s days applies", kind, days, floor
        )
    return max(days, floor)


def retention_cutoff(kind: str, *, now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=retention_days(kind))


def _purge_queryset_in_batches(queryset: models.QuerySet) -> int:
    model = queryset.model
    total = 0
    while True:
        pks = list(queryset.order_by("pk").values_list("pk", flat=True)[:BATCH])
        if not pks:
            return total
        with transaction.atomic():
            model._default_manager.filter(pk__in=pks).delete()
        total += len(pks)


def register_retention_kind(
    name: str, queryset_factory: Callable[..., models.QuerySet], *, date_field: str = "created_at"
) -> None:
    """Purge the rows of `name` past its retention period, daily.

    `queryset_factory(cutoff)` returns the rows older than the cutoff. A factory taking no
    argument returns the eligible rows (finished runs, resolved dead letters) and the cutoff
    is applied to `date_field`.
    """
    takes_cutoff = bool(inspect.signature(queryset_factory).parameters)

    def expired(cutoff: datetime) -> models.QuerySet:
        if takes_cutoff:
            return queryset_factory(cutoff)
        return queryset_factory().filter(**{f"{date_field}__lt": cutoff})

    _KINDS[name] = RetentionKind(
        name=name,
        count=lambda cutoff: expired(cutoff).count(),
        purge=lambda cutoff: _purge_queryset_in_batches(expired(cutoff)),
    )


def registered_retention_kinds() -> list[str]:
    return list(_KINDS)


# --- Audit events: a prefix of the hash chain ----------------------------------------------------


def _audit_purge_boundary(cutoff: datetime) -> int | None:
    """Events with id below the returned id may go; None when nothing may.

    Only a contiguous prefix is removed, so the remaining chain stays verifiable. The prefix
    ends at the first event newer than the cutoff, or at the first privacy-request event
    younger than its own (longer) retention, whichever comes first.
    """
    candidates = [
        AuditEvent.objects.filter(created_at__gte=cutoff)
        .order_by("id")
        .values_list("id", flat=True)
        .first()
    ]
    now = cutoff + timedelta(days=retention_days("audit_events"))
    privacy_cutoff = retention_cutoff("privacy_requests", now=now)
    candidates.append(
        AuditEvent.objects.filter(
            action__startswith=PRIVACY_ACTION_PREFIX, created_at__gte=privacy_cutoff
        )
        .order_by("id")
        .values_list("id", flat=True)
        .first()
    )
    bounded = [c for c in candidates if c is not None]
    if bounded:
        return min(bounded)
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
    return last + 1 if last is not None else None


def _audit_events_count(cutoff: datetime) -> int:
    boundary = _audit_purge_boundary(cutoff)
    return AuditEvent.objects.filter(id__lt=boundary).count() if boundary else 0


def _audit_events_purge(cutoff: datetime) -> int:
    """Delete the old prefix batch by batch; each batch appends an `audit.purged` event.

    The event carries the hash of the last purged event, so `audit verify` accepts the first
    remaining event's link. On PostgreSQL the trigger lets the DELETE through only inside
    this transaction (SET LOCAL) and only for rows past the floor.
    """
    boundary = _audit_purge_boundary(cutoff)
    total = 0
    while boundary:
        ids = list(
            AuditEvent.objects.filter(id__lt=boundary)
            .order_by("id")
            .values_list("id", "hash")[:AUDIT_BATCH]
        )
        if not ids:
            break
        first_id, last_id, last_hash = ids[0][0], ids[-1][0], ids[-1][1]
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET LOCAL switchyard.audit_purge = 'on'")
            # Raw SQL on purpose: the ORM refuses to delete audit events.
            table = connection.ops.quote_name(AuditEvent._meta.db_table)
            cursor.execute(f"DELETE FROM {table} WHERE id >= %s AND id <= %s", [first_id, last_id])  # noqa: S608
            audit_event_record(
                action=PURGED_ACTION,
                actor_label="system:retention",
                object_type="audit.auditevent",
                metadata={
                    "first_purged_id": first_id,
                    "last_purged_id": last_id,
                    "last_purged_hash": last_hash,
                    "purged": cursor.rowcount,
                    "cutoff": cutoff.isoformat(),
                },
            )
        total += len(ids)
    return total


_KINDS["audit_events"] = RetentionKind("audit_events", _audit_events_count, _audit_events_purge)
register_retention_kind(
    "privacy_requests", lambda cutoff: PrivacyRequest.objects.filter(created_at__lt=cutoff)
)


# --- The purge --------------------------------------------------------------------------------


def retention_purge(*, dry_run: bool, now: datetime | None = None) -> dict[str, int]:
    """Purge (or with dry_run, count) every registered kind past its retention: {kind: rows}.

    A kind that fails is logged and reported as -1; the other kinds are still purged.
    """
    report: dict[str, int] = {}
    failed: dict[str, str] = {}
    for kind in list(_KINDS.values()):
        try:
            cutoff = retention_cutoff(kind.name, now=now)
            # A savepoint, so that on PostgreSQL a failed kind leaves the connection usable.
            with transaction.atomic():
                report[kind.name] = kind.count(cutoff) if dry_run else kind.purge(cutoff)
        except Exception as exc:
            logger.exception("retention purge of %s failed", kind.name)
            report[kind.name] = -1
            failed[kind.name] = f"{type(exc).__name__}: {exc}"[:300]
    if not dry_run:
        audit_event_record(
            action="retention.purged",
            actor_label="system:retention",
            metadata={"deleted": report, "failed": failed},
        )
    return report


def retention_report(*, now: datetime | None = None) -> list[dict]:
    """What a purge would remove now, with each kind's period and cutoff (dry run).

    `would_delete` is -1 for a kind that could not be counted (see the log).
    """
    rows = []
    for kind, count in retention_purge(dry_run=True, now=now).items():
        try:
            days, cutoff = retention_days(kind), retention_cutoff(kind, now=now)
        except KeyError:
            days, cutoff = None, None
        rows.append({"kind": kind, "days": days, "cutoff": cutoff, "would_delete": count})
    return rows
