"""The hash chain that makes the audit log tamper-evident.

Each event's `hash` is SHA-256 over the canonical JSON of its content and the previous
event's hash. Changing a row breaks its own hash; deleting or reordering rows breaks the next
row's `prev_hash` link. `chain_verify` walks the table in id order and names the first event
that does not hold.

A retention purge removes a prefix of the chain; it appends an `audit.purged` event that
carries the hash of the last purged event, so the first remaining event links to something
that is itself under the chain.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.db import connection

from audit.models import AuditEvent

PURGED_ACTION = "audit.purged"
# pg_advisory_xact_lock key for "append to the audit chain"; any constant unique in the app.
CHAIN_LOCK_KEY = 7_265_534_001

HASHED_FIELDS = (
    "created_at",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "changes",
    "metadata",
    "ip_address",
    "user_agent",
    "request_id",
    "prev_hash",
)


def _canonical_ip(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return ipaddress.ip_address(str(value).split("/")[0]).compressed
    except ValueError:
        return str(value)


def event_hash(fields: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the hashed fields (sorted keys, UTC microseconds)."""
    created = fields["created_at"].astimezone(UTC).isoformat(timespec="microseconds")
    content = {name: fields.get(name) for name in HASHED_FIELDS}
    content["created_at"] = created
    content["ip_address"] = _canonical_ip(content["ip_address"])
    content["actor_id"] = int(content["actor_id"]) if content["actor_id"] is not None else None
    payload = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def chain_lock() -> None:
    """Serialize appends so two writers never chain to the same previous event.

    Must run inside transaction.atomic(): PostgreSQL holds the advisory lock until the
    transaction ends, i.e. until the new event is committed and visible to the next writer.
    SQLite allows one writer at a time anyway.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])


def chain_head_hash() -> str:
    return AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first() or ""


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    broken_id: int | None = None
    reason: str = ""
    head_id: int | None = None
    head_hash: str = ""


def _rows(batch: int = 5000) -> Iterator[dict[str, Any]]:
    # Keyset batches rather than one cursor: constant memory and no long-held snapshot.
    last_id = 0
    while True:
        rows = list(
            AuditEvent.objects.filter(id__gt=last_id)
            .order_by("id")
            .values("id", "hash", *HASHED_FIELDS)[:batch]
        )
        if not rows:
            return
        yield from rows
        last_id = rows[-1]["id"]


def _purge_cuts() -> set[str]:
    """Hashes of purged events that a remaining event may legitimately link to."""
    return {
        (meta or {}).get("last_purged_hash", "")
        for meta in AuditEvent.objects.filter(action=PURGED_ACTION).values_list(
            "metadata", flat=True
        )
    } - {""}


def chain_verify() -> VerifyResult:
    previous: dict[str, Any] | None = None
    checked = 0
    for row in _rows():
        if row["hash"] != event_hash(row):
            return VerifyResult(
                False,
                checked,
                row["id"],
                "its content does not match its hash (the row was altered)",
            )
        if previous is None:
            if row["prev_hash"] and row["prev_hash"] not in _purge_cuts():
                return VerifyResult(
                    False,
                    checked,
                    row["id"],
                    "it links to an event that is missing, and no audit.purged event accounts for it "
                    "(earlier events were deleted)",
                )
        elif row["prev_hash"] != previous["hash"]:
            return VerifyResult(
                False,
                checked,
                row["id"],
                f"its prev_hash does not match event {previous['id']}'s hash "
                "(events between them were deleted, reordered or altered)",
            )
        previous = row
        checked += 1
    return VerifyResult(
        True,
        checked,
        head_id=previous["id"] if previous else None,
        head_hash=previous["hash"] if previous else "",
    )
