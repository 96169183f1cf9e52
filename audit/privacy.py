"""Privacy requests: GDPR erasure and CCPA access, across every store that holds personal data.

The audit app does not know where personal data lives; the apps that keep it register a
`PersonalDataStore` here (pipelines: staged records, dead letters, webhook payloads;
integrations: the warehouse table, cached enrichment, HubSpot's GDPR delete). An erasure runs
every registered store, puts the email's hash on the suppression list, and keeps a receipt;
the audit log and the receipt hold the hash of the email, never the email.

Store contract:
- `name`: unique, stable (it appears in receipts).
- `find(email) -> list[dict]`: every record about that person, JSON-able, for the access export.
- `erase(email) -> int`: delete or anonymize them; return how many records were removed or
  anonymized. Idempotent: a second call finds nothing and returns 0.
- Both receive the normalized (stripped, lowercase) email and must match case-insensitively.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from audit.csv_safety import csv_safe_row
from audit.masking import hash_email, json_safe, mask_email, normalize_email, scrub_text
from audit.models import PrivacyRequest, SuppressedEmail
from audit.retention import register_retention_kind  # noqa: F401 - also offered here, next to register_store
from audit.services import audit_event_record

logger = logging.getLogger(__name__)


@runtime_checkable
class PersonalDataStore(Protocol):
    name: str

    def find(self, email: str) -> list[dict]: ...

    def erase(self, email: str) -> int: ...


_STORES: dict[str, PersonalDataStore] = {}


def register_store(store: PersonalDataStore) -> PersonalDataStore:
    """Add a store (idempotent by name: re-registering replaces, so app reloads are harmless)."""
    if not isinstance(store, PersonalDataStore) or not getattr(store, "name", ""):
        raise TypeError(f"{store!r} is not a PersonalDataStore (name, find(email), erase(email))")
    _STORES[store.name] = store
    return store


def unregister_store(name: str) -> None:
    _STORES.pop(name, None)


def registered_stores() -> list[PersonalDataStore]:
    return list(_STORES.values())


# --- Suppression ----------------------------------------------------------------------------


def email_is_suppressed(email: str) -> bool:
    """True if this person was erased: imports and webhooks skip them (reason `erased`)."""
    if not email:
        return False
    return SuppressedEmail.objects.filter(email_hash=hash_email(email)).exists()


def emails_suppressed(emails: list[str]) -> set[str]:
    """The subset of `emails` (as given) that is suppressed: one query for a whole batch."""
    listed = SuppressedEmail.objects.values_list("email_hash", flat=True)
    size = listed.count()
    if not size:  # the usual case: no hashing at all (~3 µs an email, per staged record)
        return set()
    by_hash = {hash_email(e): e for e in emails if e}
    if not by_hash:
        return set()
    # The list is usually far shorter than an import chunk: then read it whole and intersect
    # here, instead of sending thousands of parameters the database mostly will not match.
    if size <= len(by_hash):
        return {by_hash[h] for h in listed if h in by_hash}
    found = SuppressedEmail.objects.filter(email_hash__in=list(by_hash)).values_list(
        "email_hash", flat=True
    )
    return {by_hash[h] for h in found}


def suppression_add(*, email: str, reason: str = "erasure") -> SuppressedEmail:
    email_hash = hash_email(email)
    try:
        with transaction.atomic():
            entry, _ = SuppressedEmail.objects.get_or_create(
                email_hash=email_hash, defaults={"reason": reason}
            )
    except IntegrityError:  # a concurrent request added it first
        entry = SuppressedEmail.objects.get(email_hash=email_hash)
    return entry


# --- Erasure ----------------------------------------------------------------------------------


@dataclass
class StoreResult:
    store: str
    removed: int = 0
    error: str = ""


@dataclass
class ErasureReceipt:
    request_id: int
    email_hash: str
    performed_at: str
    performed_by: str
    status: str
    suppressed: bool
    stores: list[StoreResult] = field(default_factory=list)

    @property
    def total_removed(self) -> int:
        return sum(s.removed for s in self.stores)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _actor_label(actor: Any) -> str:
    return (
        actor.get_username() if actor is not None and hasattr(actor, "get_username") else "system"
    )


def _safe_error(exc: Exception, email: str) -> str:
    # An exception message may quote the email it failed on; the receipt must not.
    message = str(exc).replace(email, "[email]")
    return f"{type(exc).__name__}: {scrub_text(message)}"[:300]


def privacy_erasure_perform(
    *, email: str, actor: Any, request: HttpRequest | None = None
) -> ErasureReceipt:
    """Erase a person everywhere Switchyard holds them, and suppress them from now on.

    Suppression comes first, so that an import running meanwhile already skips the person.
    A failing store does not stop the others; the request is then `partial` and running it
    again finishes the job (stores are idempotent). The work is not one database transaction:
    some stores call remote APIs (HubSpot's GDPR delete), which cannot be rolled back anyway.
    """
    normalized = normalize_email(email)
    if "@" not in normalized:
        raise ValueError("An email address is required.")
    email_hash = hash_email(normalized)
    suppression_add(email=normalized, reason="erasure")
    results: list[StoreResult] = []
    for store in registered_stores():
        try:
            results.append(StoreResult(store=store.name, removed=int(store.erase(normalized))))
        except Exception as exc:
            logger.exception("privacy erasure: store %s failed", store.name)
            results.append(StoreResult(store=store.name, error=_safe_error(exc, normalized)))
    status = (
        PrivacyRequest.Status.PARTIAL
        if any(r.error for r in results)
        else PrivacyRequest.Status.COMPLETED
    )
    performed_at = timezone.now()
    privacy_request = PrivacyRequest.objects.create(
        kind=PrivacyRequest.Kind.ERASURE,
        email_hash=email_hash,
        subject_masked=mask_email(normalized),
        status=status,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=_actor_label(actor),
        created_at=performed_at,
    )
    receipt = ErasureReceipt(
        request_id=privacy_request.pk,
        email_hash=email_hash,
        performed_at=performed_at.isoformat(),
        performed_by=_actor_label(actor),
        status=status,
        suppressed=True,
        stores=results,
    )
    PrivacyRequest.objects.filter(pk=privacy_request.pk).update(receipt=receipt.as_dict())
    audit_event_record(
        action="privacy.erasure",
        actor=actor,
        obj=privacy_request,
        request=request,
        object_repr=f"Erasure {email_hash[:12]}…",
        metadata={
            "email_hash": email_hash,
            "status": status,
            "stores": {r.store: (r.removed if not r.error else "failed") for r in results},
        },
    )
    return receipt


# --- Access export ------------------------------------------------------------------------------


def privacy_access_export(
    *, email: str, actor: Any, request: HttpRequest | None = None
) -> dict[str, Any]:
    """Everything Switchyard holds about an email, per store, as JSON-able data.

    The caller must hold `audit.export_personal_data`. The export holds personal data by
    design (it goes to the person); the audit log and the request row hold the hash only.
    """
    normalized = normalize_email(email)
    if "@" not in normalized:
        raise ValueError("An email address is required.")
    email_hash = hash_email(normalized)
    stores: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for store in registered_stores():
        try:
            stores[store.name] = json_safe(store.find(normalized))
        except Exception as exc:
            logger.exception("privacy access export: store %s failed", store.name)
            errors[store.name] = _safe_error(exc, normalized)
    status = PrivacyRequest.Status.PARTIAL if errors else PrivacyRequest.Status.COMPLETED
    counts = {name: len(records) for name, records in stores.items()}
    privacy_request = PrivacyRequest.objects.create(
        kind=PrivacyRequest.Kind.ACCESS,
        email_hash=email_hash,
        subject_masked=mask_email(normalized),
        status=status,
        receipt={"stores": counts, "errors": errors},
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=_actor_label(actor),
    )
    audit_event_record(
        action="privacy.access_exported",
        actor=actor,
        obj=privacy_request,
        request=request,
        object_repr=f"Access export {email_hash[:12]}…",
        metadata={
            "email_hash": email_hash,
            "status": status,
            "stores": counts,
            "failed_stores": sorted(errors),
        },
    )
    return {
        "email": normalized,
        "generated_at": timezone.now().isoformat(),
        "request_id": privacy_request.pk,
        "suppressed": SuppressedEmail.objects.filter(email_hash=email_hash).exists(),
        "stores": stores,
        "errors": errors,
    }


def privacy_access_export_csv(export: dict[str, Any]) -> str:
    """The export in long form (store, record, field, value): records of any shape fit."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["store", "record", "field", "value"])
    for store, records in export["stores"].items():
        for index, record in enumerate(records, start=1):
            items = record.items() if isinstance(record, dict) else [("value", record)]
            for key, value in items:
                writer.writerow(csv_safe_row([store, index, key, value]))
    for store, error in export.get("errors", {}).items():
        writer.writerow(csv_safe_row([store, "", "error", error]))
    return buffer.getvalue()
