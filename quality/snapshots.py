"""Portal snapshots: an incremental extract of HubSpot contacts and companies into
quality's own table, then the portal's quality measured from it (docs/quality.md, "Portal
snapshots"). Reads HubSpot through the registry's client; writes only quality's tables.

Incremental by the object's last-modified property (contacts ``lastmodifieddate``, companies
``hs_lastmodifieddate``): ``GTE`` the previous snapshot's newest modification minus a five
minute overlap, since search is eventually consistent. The client's search lifts the 10,000
result cap by restarting above the last id seen; records are upserted by id, so an overlap
costs nothing. Afterwards the records held are compared with HubSpot's ``total``.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone

from integrations.errors import ProviderError
from integrations.models import Connection
from quality.addresses import normalize_domain
from quality.errors import ValueRejected
from quality.metrics import duplication_rate, is_missing, percent
from quality.models import PortalRecord, PortalSnapshot
from quality.portal import (
    CURSOR_PROPERTY,
    MEASURED,
    SNAPSHOT_PROPERTIES,
    duplicate_issue,
    record_issues,
)

OVERLAP = timedelta(minutes=5)
UPSERT_ROWS = 500
OBJECT_TYPES = ("contacts", "companies")


def _parse_time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    text = str(value)
    try:
        if text.isdigit():
            return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _identity(object_type: str, properties: dict[str, Any]) -> tuple[str, str]:
    if object_type == "contacts":
        return str(properties.get("email") or "").strip().lower()[:320], ""
    try:
        return "", normalize_domain(str(properties.get("domain") or ""))[:253]
    except ValueRejected:
        return "", str(properties.get("domain") or "").strip().lower()[:253]


def _upsert(rows: list[PortalRecord]) -> None:
    PortalRecord.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["connection", "object_type", "hubspot_id"],
        update_fields=["email", "domain", "properties", "modified_at", "seen_at"],
    )


def _extract(
    client: Any, *, connection: Connection, object_type: str, since: datetime | None, now: datetime
) -> tuple[int, datetime | None]:
    cursor = CURSOR_PROPERTY[object_type]
    groups = []
    if since is not None:
        millis = str(int(since.timestamp() * 1000))
        groups = [{"filters": [{"propertyName": cursor, "operator": "GTE", "value": millis}]}]
    fetched, newest, buffer = 0, None, []
    for result in client.search(
        object_type,
        filter_groups=groups,
        properties=SNAPSHOT_PROPERTIES[object_type],
        limit=200,
    ):
        properties = {
            k: v
            for k, v in (result.get("properties") or {}).items()
            if k in SNAPSHOT_PROPERTIES[object_type]
        }
        modified = _parse_time(properties.get(cursor) or result.get("updatedAt"))
        newest = max(filter(None, (newest, modified)), default=None)
        email, domain = _identity(object_type, properties)
        buffer.append(
            PortalRecord(
                connection=connection,
                object_type=object_type,
                hubspot_id=str(result.get("id")),
                email=email,
                domain=domain,
                properties=properties,
                modified_at=modified,
                seen_at=now,
            )
        )
        fetched += 1
        if len(buffer) >= UPSERT_ROWS:
            _upsert(buffer)
            buffer = []
    if buffer:
        _upsert(buffer)
    return fetched, newest


def portal_snapshot_take(
    *, connection: Connection, object_type: str, transport: Any = None
) -> PortalSnapshot:
    """Extract what changed since the last good snapshot, then measure the whole portal.
    A failed extract is recorded with its error and moves no cursor."""
    from integrations.registry import client_for

    now = timezone.now()
    previous = (
        PortalSnapshot.objects.filter(
            connection=connection, object_type=object_type, error="", cursor_to__isnull=False
        )
        .order_by("-started_at")
        .first()
    )
    since = previous.cursor_to - OVERLAP if previous else None
    snapshot = PortalSnapshot.objects.create(
        connection=connection, object_type=object_type, started_at=now, cursor_from=since
    )
    client = client_for(connection, transport=transport)
    try:
        fetched, newest = _extract(
            client, connection=connection, object_type=object_type, since=since, now=now
        )
        total = client.search_total(object_type)
    except ProviderError as exc:
        snapshot.error = f"{type(exc).__name__}: {exc.message}"[:300]
        snapshot.finished_at = timezone.now()
        snapshot.save()
        return snapshot
    finally:
        client.close()
    snapshot.fetched = fetched
    snapshot.cursor_to = newest or (previous.cursor_to if previous else None) or now
    snapshot.held = PortalRecord.objects.filter(
        connection=connection, object_type=object_type
    ).count()
    snapshot.hubspot_total = total
    snapshot.complete = None if total is None else snapshot.held >= total
    snapshot.measures = portal_quality_measure(
        connection=connection, object_type=object_type, now=now
    )
    snapshot.finished_at = timezone.now()
    snapshot.save()
    return snapshot


def _records(connection: Connection, object_type: str) -> Iterator[tuple]:
    return (
        PortalRecord.objects.filter(connection=connection, object_type=object_type)
        .values_list("hubspot_id", "email", "domain", "properties", "modified_at")
        .iterator(chunk_size=2000)
    )


def portal_quality_measure(
    *, connection: Connection, object_type: str, now: datetime
) -> dict[str, Any]:
    """Fill rate per property, duplication, timeliness and the worst offenders."""
    fields = MEASURED[object_type]
    filled: Counter[str] = Counter()
    issues: Counter[str] = Counter()
    keys: list[str] = []
    ages: list[float] = []
    count = 0
    for _id, email, domain, properties, modified in _records(connection, object_type):
        count += 1
        for name in fields:
            filled[name] += not is_missing(properties.get(name))
        issues.update(record_issues(object_type, properties))
        keys.append(email if object_type == "contacts" else domain)
        if modified:
            ages.append((now - modified).total_seconds() / 86400)
    rate, groups = duplication_rate(keys)
    key_counts = Counter(k for k in keys if k)
    duplicates = sum(n for n in key_counts.values() if n > 1)
    if duplicates:
        issues[duplicate_issue(object_type)] = duplicates
    return {
        "records": count,
        "completeness": {name: percent(filled[name], count) for name in fields},
        "duplication_rate": rate,
        "duplicate_groups": groups,
        "timeliness_days": round(sum(ages) / len(ages), 1) if ages else None,
        "offenders": [{"issue": issue, "count": n} for issue, n in issues.most_common()],
    }


def portal_offenders_csv(*, connection: Connection, object_type: str) -> Iterator[str]:
    """CSV lines: HubSpot id and issue. No names or emails: the id opens the record in
    HubSpot, so the export carries no personal data."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(["object_type", "hubspot_id", "issue"])
    yield flush()
    key_counts: Counter[str] = Counter()
    for _id, email, domain, _props, _m in _records(connection, object_type):
        key = email if object_type == "contacts" else domain
        if key:
            key_counts[key] += 1
    for hubspot_id, email, domain, properties, _m in _records(connection, object_type):
        found = record_issues(object_type, properties)
        key = email if object_type == "contacts" else domain
        if key and key_counts[key] > 1:
            found.append(duplicate_issue(object_type))
        for issue in found:
            writer.writerow([object_type, hubspot_id, issue])
        if buffer.tell() > 64_000:
            yield flush()
    yield flush()


def portal_snapshots_take_all(*, transport: Any = None) -> list[PortalSnapshot]:
    """Every HubSpot connection, contacts and companies (the daily beat task)."""
    snapshots = []
    for connection in Connection.objects.filter(provider="hubspot", status="active"):
        for object_type in OBJECT_TYPES:
            snapshots.append(
                portal_snapshot_take(
                    connection=connection, object_type=object_type, transport=transport
                )
            )
    return snapshots
