"""The hash chain that makes the audit log tamper-evident.

Each event's `hash` is an HMAC-SHA256, keyed with AUDIT_CHAIN_KEYS (kept outside the
database, like the field keys), over the canonical JSON of its content and the previous
event's hash. Changing a row breaks its own hash; deleting or reordering rows breaks the next
row's `prev_hash` link; and without the key, nobody who can write the table can recompute the
hashes after rewriting an event. `chain_verify` walks the table in id order and names the
first event that does not hold; given an anchor (a head recorded outside the database by
`audit head`), it also detects truncation: deleting the last events, or all of them.

Keys rotate like the field keys: the first key signs, every key listed verifies. Events
written before the chain was keyed carry plain SHA-256 hashes; they verify as such only up
to the first keyed event, whose link covers them.

A retention purge removes a prefix of the chain; it appends an `audit.purged` event that
carries the hash of the last purged event, so the first remaining event links to something
that is itself under the chain.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.conf import settings
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


def _canonical(fields: dict[str, Any]) -> bytes:
    """The canonical JSON of the hashed fields (sorted keys, UTC microseconds)."""
    created = fields["created_at"].astimezone(UTC).isoformat(timespec="microseconds")
    content = {name: fields.get(name) for name in HASHED_FIELDS}
    content["created_at"] = created
    content["ip_address"] = _canonical_ip(content["ip_address"])
    content["actor_id"] = int(content["actor_id"]) if content["actor_id"] is not None else None
    payload = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return payload.encode()


def chain_keys() -> list[bytes]:
    """AUDIT_CHAIN_KEYS (first signs, all verify), else one derived from SECRET_KEY."""
    keys = [k.encode() for k in getattr(settings, "AUDIT_CHAIN_KEYS", []) if k]
    if keys:
        return keys
    return [hashlib.sha256(b"switchyard.audit.chain:" + settings.SECRET_KEY.encode()).digest()]


def event_hash(fields: dict[str, Any]) -> str:
    """HMAC-SHA256 of the canonical content under the signing (first) chain key."""
    return hmac.new(chain_keys()[0], _canonical(fields), hashlib.sha256).hexdigest()


def _hash_kind(row: dict[str, Any], keys: list[bytes]) -> str | None:
    """ "keyed" when one of the keys made the row's hash, "legacy" for a plain SHA-256 (events
    from before the chain was keyed), None when neither did."""
    payload = _canonical(row)
    for key in keys:
        if hmac.compare_digest(hmac.new(key, payload, hashlib.sha256).hexdigest(), row["hash"]):
            return "keyed"
    if hmac.compare_digest(hashlib.sha256(payload).hexdigest(), row["hash"]):
        return "legacy"
    return None


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
    keys = chain_keys()
    keyed_seen = False
    for row in _rows():
        kind = _hash_kind(row, keys)
        if kind is None or (kind == "legacy" and keyed_seen):
            return VerifyResult(
                False,
                checked,
                row["id"],
                "its content does not match its hash (the row was altered)",
            )
        keyed_seen = keyed_seen or kind == "keyed"
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


def anchor_check(*, head_hash: str, count: int | None = None) -> str | None:
    """Why the log no longer holds an anchor recorded by `audit head`, or None. The anchored
    event must still exist (else events up to or past it were deleted: truncation, or the log
    emptied), and with `count`, as many events must have been written up to it: those still
    there plus those the retention purge accounts for."""
    head = AuditEvent.objects.filter(hash=head_hash).values("id").first()
    if head is None:
        total = AuditEvent.objects.count()
        return (
            f"the anchored event {head_hash[:16]}… is missing: events were deleted (the log "
            f"now holds {total}) or rewritten"
        )
    if count is not None:
        written = anchor_count(head_id=head["id"])
        if written != count:
            return (
                f"{written} events were written up to the anchored event {head['id']}, "
                f"not {count}: events before it were deleted"
            )
    return None


def anchor_count(*, head_id: int) -> int:
    """Events written up to `head_id`: those still there plus those purged by retention."""
    purged = sum(
        int((meta or {}).get("purged") or 0)
        for meta in AuditEvent.objects.filter(action=PURGED_ACTION).values_list(
            "metadata", flat=True
        )
        if int((meta or {}).get("last_purged_id") or 0) <= head_id
    )
    return AuditEvent.objects.filter(id__lte=head_id).count() + purged
