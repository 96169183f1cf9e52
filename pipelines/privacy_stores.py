"""Every place pipelines keeps a person, as audit.privacy `PersonalDataStore`s.

Stores receive the normalized (stripped, lower-case) email. Staged records' `match_key` is
lower-case by construction (pipelines/mapping.py), so an indexed equality finds them.

Order matters and is fixed by `pipeline_stores()`: the stores that find their rows through
the staged records (import files, dead letters, webhook events) run before the run-record
store blanks the records' match key.

"Cached enrichment" in this app is the sync state (`SyncedContact`, one row per match key)
and the routing decisions' copy of the contact's properties; both are stores below. No
Django cache entry is keyed by a person: the MX check caches by email *domain* (not personal
data), and the property catalogs are cached per connection.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from typing import Any

from django.core.files.base import ContentFile
from django.db.models import CharField, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat

from pipelines.models import (
    DeadLetter,
    InboundEvent,
    RoutingDecision,
    Run,
    RunRecord,
    RunTrigger,
    SyncedContact,
    Workflow,
    WorkflowType,
)

logger = logging.getLogger(__name__)
ERASED = {"erased": True}


def _mentions(value: Any, email: str) -> bool:
    return email in str(value).lower()


def _scrub(value: Any, email: str) -> Any:
    """The JSON value with every string that mentions the email replaced."""
    if isinstance(value, dict):
        return {k: _scrub(v, email) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, email) for v in value]
    return "[erased]" if isinstance(value, str) and _mentions(value, email) else value


class ImportFileStore:
    """The uploaded CSV kept with a run for lineage. The person's rows are blanked in place
    (same number of rows, so every other record's row number still points at its line)."""

    name = "pipelines.import_files"

    def _runs(self, email: str) -> QuerySet:
        run_ids = RunRecord.objects.filter(match_key=email, run__trigger=RunTrigger.CSV).values(
            "run_id"
        )
        return Run.objects.filter(pk__in=run_ids).exclude(input_file="")

    def find(self, email: str) -> list[dict[str, Any]]:
        return [
            {"run": run.pk, "file": run.input_filename, "row": number, "cells": row}
            for run in self._runs(email)
            for number, row in import_file_rows(run=run, emails={email})
        ]

    def erase(self, email: str) -> int:
        blanked = sum(import_file_rows_blank(run=run, emails={email}) for run in self._runs(email))
        # An email in the uploaded file's *name* ("leads-ada@acme.com.csv") is personal too.
        for run in Run.objects.filter(input_filename__icontains=email):
            name = re.sub(re.escape(email), "[erased]", run.input_filename, flags=re.IGNORECASE)
            Run.objects.filter(pk=run.pk).update(input_filename=name)
            blanked += 1
        return blanked


class PendingUploadStore:
    """Uploads previewed in the import wizard but not (yet) confirmed: kept up to a day under
    imports/pending/. The person's rows are blanked in place, like a run's file."""

    name = "pipelines.pending_uploads"

    def _files(self) -> list[str]:
        from django.core.files.storage import default_storage

        from pipelines.screens.services import PENDING_DIR

        try:
            _, names = default_storage.listdir(PENDING_DIR)
        except FileNotFoundError:
            return []
        return [f"{PENDING_DIR}/{name}" for name in names]

    def find(self, email: str) -> list[dict[str, Any]]:
        found = []
        for path in self._files():
            rows, _, _ = _read_stored(path)
            header = rows[0] if rows else []
            found += [
                {
                    "pending_upload": path,
                    "row": number,
                    "cells": dict(zip(header, cells, strict=False)),
                }
                for number, cells in enumerate(rows[1:], start=2)
                if any(cell.strip().lower() == email for cell in cells)
            ]
        return found

    def erase(self, email: str) -> int:
        return sum(_rows_blank(path, {email}) for path in self._files())


def _read_stored(
    name: str, encoding: str = "", delimiter: str = ""
) -> tuple[list[list[str]], str, str]:
    """A stored CSV's rows, in its known format or the one detected (a pending upload)."""
    from django.core.files.storage import default_storage

    from pipelines.csv_files import CsvRefused, csv_detect

    with default_storage.open(name, "rb") as binary:
        if not (encoding and delimiter):
            try:
                fmt = csv_detect(binary)
                encoding, delimiter = fmt.encoding, fmt.delimiter
            except CsvRefused:
                encoding, delimiter = "utf-8", ","
        text = binary.read().decode(encoding, errors="replace")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)), encoding, delimiter


def _read_file(run: Run) -> tuple[list[list[str]], str, str]:
    encoding, delimiter = run.file_encoding or "utf-8", run.file_delimiter or ","
    with run.input_file.open("rb") as binary:
        text = binary.read().decode(encoding, errors="replace")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)), encoding, delimiter


def _rows_blank(name: str, emails: set[str]) -> int:
    """Blank the rows of a stored pending upload holding one of the emails, in place."""
    from django.core.files.storage import default_storage

    rows, encoding, delimiter = _read_stored(name)
    blanked = 0
    for index in range(1, len(rows)):
        if any(cell.strip().lower() in emails for cell in rows[index]):
            rows[index] = [""] * len(rows[index])
            blanked += 1
    if blanked:
        buffer = io.StringIO(newline="")
        csv.writer(buffer, delimiter=delimiter).writerows(rows)
        default_storage.delete(name)
        default_storage.save(
            name, ContentFile(buffer.getvalue().encode(encoding, errors="replace"))
        )
    return blanked


def import_file_rows(*, run: Run, emails: set[str]) -> list[tuple[int, dict[str, str]]]:
    """(row number, {header: cell}) of the file's rows holding one of the emails in a cell."""
    rows, _, _ = _read_file(run)
    header = rows[0] if rows else []
    return [
        (number, dict(zip(header, cells, strict=False)))
        for number, cells in enumerate(rows[1:], start=2)
        if any(cell.strip().lower() in emails for cell in cells)
    ]


def import_file_rows_blank(*, run: Run, emails: set[str]) -> int:
    """Blank every row of the run's file that holds one of the emails; returns rows blanked.
    Also used by staging for suppressed people arriving in a new file."""
    if not run.input_file or not emails:
        return 0
    rows, encoding, delimiter = _read_file(run)
    blanked = 0
    for index in range(1, len(rows)):
        if any(cell.strip().lower() in emails for cell in rows[index]):
            rows[index] = [""] * len(rows[index])
            blanked += 1
    if blanked:
        buffer = io.StringIO(newline="")
        csv.writer(buffer, delimiter=delimiter).writerows(rows)
        storage, name = run.input_file.storage, run.input_file.name
        storage.delete(name)
        saved = storage.save(
            name, ContentFile(buffer.getvalue().encode(encoding, errors="replace"))
        )
        if saved != name:  # a storage that renames: keep the run pointing at its file
            Run.objects.filter(pk=run.pk).update(input_file=saved)
    return blanked


class DeadLetterStore:
    """Payload, original payload and source row of dead letters, including routing's (whose
    record carries the contact's properties)."""

    name = "pipelines.dead_letters"

    def _letters(self, email: str) -> QuerySet:
        return DeadLetter.objects.filter(
            Q(record__match_key=email)
            # An address refused as invalid has no match key; the letter still names it.
            | Q(identity=email.strip().lower())
            | Q(payload__email__iexact=email)
            | Q(record__raw__contact__email__iexact=email)
        )

    def find(self, email: str) -> list[dict[str, Any]]:
        return [
            {
                "id": d.pk,
                "run": d.run_id,
                "payload": d.payload,
                "original_payload": d.original_payload,
                "source_row": d.source_row,
                "errors": d.errors,
            }
            for d in self._letters(email)
        ]

    def erase(self, email: str) -> int:
        letters = list(self._letters(email).values_list("pk", "record_id"))
        # A letter's identity names the person too; the record of a refused address can only
        # be found through it, so that record is blanked here, before the identity goes.
        RunRecord.objects.filter(
            pk__in=[record_id for _, record_id in letters], match_key=""
        ).update(raw={}, values={}, extras={}, errors=[], event_id="")
        return DeadLetter.objects.filter(pk__in=[pk for pk, _ in letters]).update(
            payload={},
            original_payload=None,
            source_row={},
            errors=["erased on request"],
            # Unique per letter, so erased letters are never taken for one person.
            identity=Concat(Value("erased:"), Cast("pk", output_field=CharField())),
        )


class InboundEventStore:
    """Webhook bodies as received. Found through the records staged from them, or by a text
    search of the payload (a scan; erasures are rare and events are kept 30 days). Only the
    person's items are replaced: a Clay delivery may carry a thousand other people."""

    name = "pipelines.inbound_events"

    def _events(self, email: str) -> QuerySet:
        return InboundEvent.objects.filter(
            Q(records__match_key=email) | Q(payload__icontains=email)
        ).distinct()

    def find(self, email: str) -> list[dict[str, Any]]:
        return [
            {
                "id": e.pk,
                "received_at": e.received_at.isoformat(),
                "payload": _items_of(e.payload, email),
            }
            for e in self._events(email)
        ]

    def erase(self, email: str) -> int:
        changed = 0
        for event in self._events(email):
            payload = event.payload
            if isinstance(payload, list):
                payload = [ERASED if _mentions(item, email) else item for item in payload]
            else:
                payload = ERASED
            if payload != event.payload:
                InboundEvent.objects.filter(pk=event.pk).update(payload=payload)
                changed += 1
        return changed


def _items_of(payload: Any, email: str) -> Any:
    if isinstance(payload, list):
        return [item for item in payload if _mentions(item, email)]
    return payload


def inbound_event_items_erase(*, items: dict[int, set[int]]) -> None:
    """Replace items of stored events by ``ERASED``: ``{event id: {1-based item index}}``.
    Staging calls it for suppressed people, so a new delivery about them is not kept."""
    for event in InboundEvent.objects.filter(pk__in=list(items)):
        if isinstance(event.payload, list):
            payload = [
                ERASED if i in items[event.pk] else item
                for i, item in enumerate(event.payload, start=1)
            ]
        else:
            payload = ERASED
        InboundEvent.objects.filter(pk=event.pk).update(payload=payload)


class RoutingDecisionStore:
    """A decision keeps the contact's and company's properties as read. They are removed;
    scores, rules and the chosen owner stay (the decision's record, no longer personal)."""

    name = "pipelines.routing_decisions"

    def _decisions(self, email: str) -> QuerySet:
        by_email = RoutingDecision.objects.filter(inputs__contact__email__iexact=email)
        # Other decisions about the same contact (a skipped or contact-missing one) too.
        contacts = set(by_email.values_list("config_id", "contact_id"))
        same_contact = Q(pk__in=by_email.values("pk"))
        for config_id, contact_id in contacts:
            same_contact |= Q(config_id=config_id, contact_id=contact_id)
        return RoutingDecision.objects.filter(same_contact)

    def find(self, email: str) -> list[dict[str, Any]]:
        return [
            {
                "id": d.pk,
                "contact_id": d.contact_id,
                "inputs": d.inputs,
                "created_at": d.created_at.isoformat(),
                "territory": d.territory_id,
                "owner": d.owner_id,
                "score": d.score,
            }
            for d in self._decisions(email)
        ]

    def erase(self, email: str) -> int:
        changed = 0
        for decision in self._decisions(email):
            decision.inputs = ERASED
            decision.rules = _scrub(decision.rules, email)
            decision.score_parts = _scrub(decision.score_parts, email)
            decision.errors = _scrub(decision.errors, email)
            decision.territory_reason = _scrub(decision.territory_reason, email)
            decision.save(
                update_fields=[
                    "inputs",
                    "rules",
                    "score_parts",
                    "errors",
                    "territory_reason",
                    "updated_at",
                ]
            )
            changed += 1
        return changed


class SyncedContactStore:
    """Sync state: what was last written for the match key (a hash of the values). Deleted:
    the next sync of the person would be skipped as suppressed anyway."""

    name = "pipelines.sync_state"

    def find(self, email: str) -> list[dict[str, Any]]:
        return [
            {
                "workflow": s.workflow.slug,
                "match_key": s.match_key,
                "hubspot_id": s.hubspot_id,
                "last_synced_at": s.last_synced_at.isoformat(),
            }
            for s in SyncedContact.objects.filter(match_key=email).select_related("workflow")
        ]

    def erase(self, email: str) -> int:
        deleted, _ = SyncedContact.objects.filter(match_key=email).delete()
        return deleted


class WarehouseStore:
    """The warehouse tables workflows load (pipelines/services/loading.py: one row per match
    key, with the mapped properties as JSON). Registered here, not in integrations, because
    only workflows know which table of which warehouse holds contacts."""

    name = "pipelines.warehouse"

    def _targets(self) -> list[tuple[Any, str, str, str | None]]:
        seen, targets = set(), []
        workflows = (
            Workflow.objects.exclude(warehouse_connection=None)
            .exclude(warehouse_table="")
            .select_related("warehouse_connection")
            .order_by("pk")
        )
        for workflow in workflows:
            # The key column holds the email when matching on it; else the properties hold it.
            column, json_key = (
                (workflow.match_on, None)
                if workflow.match_on == "email"
                else ("properties", "email")
            )
            key = (workflow.warehouse_connection_id, workflow.warehouse_table, column, json_key)
            if key not in seen:
                seen.add(key)
                targets.append(
                    (workflow.warehouse_connection, workflow.warehouse_table, column, json_key)
                )
        return targets

    def _each(self, action: Any) -> list[Any]:
        from integrations.registry import client_for

        results, failures = [], []
        for connection, table, column, json_key in self._targets():
            try:
                with client_for(connection) as client:
                    results.append(action(client, connection, table, column, json_key))
            except Exception as exc:  # noqa: BLE001 - try every table, then report the failures
                failures.append(f"{connection.name}/{table}: {type(exc).__name__}: {exc}")
        if failures:
            raise WarehouseErasureFailed("; ".join(failures))
        return results

    def find(self, email: str) -> list[dict[str, Any]]:
        found = self._each(
            lambda client, connection, table, column, json_key: [
                {"connection": connection.name, "table": table, "row": row}
                for row in client.rows_matching(
                    table, column=column, value=email, json_key=json_key
                )
            ]
        )
        return [row for rows in found for row in rows]

    def erase(self, email: str) -> int:
        return sum(
            self._each(
                lambda client, connection, table, column, json_key: client.rows_delete(
                    table, column=column, value=email, json_key=json_key
                )
            )
        )


class WarehouseErasureFailed(Exception):
    """At least one warehouse table could not be read or written."""


class RunRecordStore:
    """Raw payloads and mapped values of staged records; for routing's dead-letter records,
    the contact's properties in the raw payload."""

    name = "pipelines.run_records"

    def _records(self, email: str) -> QuerySet:
        routing = Q(run__workflow__type=WorkflowType.MQL_ROUTING, raw__contact__email__iexact=email)
        # A record whose address was refused as invalid has no match key; its dead letter's
        # identity is the address as given (pipelines.dead_letter_reasons.identity_of).
        refused = Q(match_key="", dead_letter__identity=email.strip().lower())
        return RunRecord.objects.filter(Q(match_key=email) | routing | refused)

    def find(self, email: str) -> list[dict[str, Any]]:
        return [
            {
                "id": r.pk,
                "run": r.run_id,
                "row": r.row_number,
                "raw": r.raw,
                "values": r.values,
                "extras": r.extras,
            }
            for r in self._records(email)
        ]

    def erase(self, email: str) -> int:
        ids = list(self._records(email).values_list("pk", flat=True))
        return RunRecord.objects.filter(pk__in=ids).update(
            raw={}, values={}, extras={}, errors=[], match_key="", event_id=""
        )


def pipeline_stores() -> list[Any]:
    """In erasure order (see the module docstring)."""
    return [
        ImportFileStore(),
        PendingUploadStore(),
        DeadLetterStore(),
        InboundEventStore(),
        RoutingDecisionStore(),
        SyncedContactStore(),
        WarehouseStore(),
        RunRecordStore(),
    ]
