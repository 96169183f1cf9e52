"""Dry-run preview of a CSV import: what would happen, with nothing written.

Counts per outcome and the per-row errors, computed by the same transform and dedupe rules
as the real run. "Would create" vs "would update" comes from the sync state, and optionally
from HubSpot itself (batch read by email, 100 per call) for emails Switchyard never synced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO, Any

import httpx

from integrations.errors import ProviderError
from pipelines.csv_files import csv_rows
from pipelines.mapping import mapping_rules, record_transform, values_hash
from pipelines.models import SyncedContact, Workflow
from pipelines.privacy import emails_suppressed
from pipelines.selectors import field_mapping_current
from pipelines.services.staging import csv_inspect
from quality.validation import CompiledMapping

MAX_ERRORS_SHOWN = 500
MAX_DUPLICATES_SHOWN = 200


@dataclass
class ImportPreview:
    encoding: str
    delimiter: str
    headers: list[str]
    matched: dict[str, str]
    warnings: list[str]
    records_in: int = 0
    would_create: int = 0
    would_update: int = 0
    unchanged: int = 0
    invalid: int = 0
    duplicate_in_file: int = 0
    suppressed: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)  # {"row", "messages"}
    # {"match_key", "rows", "survivor"}: rows merged into one record, the last one survives
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    sample: list[dict[str, Any]] = field(default_factory=list)  # first rows as they would be sent

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def run_preview_csv(
    *,
    workflow: Workflow,
    file: IO[bytes],
    check_destination: bool = False,
    transport: httpx.BaseTransport | None = None,
    sample_size: int = 10,
) -> ImportPreview:
    """Read the whole file as a stream; hold only one entry per distinct email in memory."""
    inspection = csv_inspect(workflow=workflow, file=file)
    rules = mapping_rules(field_mapping_current(workflow=workflow).rules)
    preview = ImportPreview(
        encoding=inspection.format.encoding,
        delimiter=inspection.format.delimiter,
        headers=inspection.format.headers,
        matched=inspection.columns.matched,
        warnings=inspection.warnings,
    )
    latest: dict[str, dict[str, Any]] = {}
    first_row: dict[str, int] = {}  # one int per distinct key; rows kept only for duplicates
    duplicate_rows: dict[str, list[int]] = {}
    mapping = CompiledMapping(rules, inspection.columns.matched)  # once per file, not per row
    pending: list[tuple[int, Any]] = []

    def settle() -> None:
        # Suppression is looked up for 1,000 records at a time (one query, none at all while
        # nobody is suppressed), not per record: a preview of 100k rows made 100k queries.
        suppressed = emails_suppressed([record.match_key for _, record in pending])
        for number, record in pending:
            if record.match_key in suppressed:
                preview.suppressed += 1
                continue
            if len(preview.sample) < sample_size:
                preview.sample.append({"row": number, **record.values})
            if record.match_key in latest:
                preview.duplicate_in_file += 1
                rows = duplicate_rows.setdefault(record.match_key, [first_row[record.match_key]])
                rows.append(number)
                merged = latest[record.match_key]
                merged.update(
                    {
                        k: v
                        for k, v in record.values.items()
                        if v not in (None, "") or k not in merged
                    }
                )
            else:
                latest[record.match_key] = dict(record.values)
                first_row[record.match_key] = number
        pending.clear()

    for number, row in csv_rows(file, inspection.format):
        preview.records_in += 1
        record = record_transform(row, mapping, match_on=workflow.match_on)
        if not record.ok:
            preview.invalid += 1
            if len(preview.errors) < MAX_ERRORS_SHOWN:
                preview.errors.append(
                    {
                        "row": number,
                        "messages": [f"{e['source']}: {e['message']}" for e in record.errors],
                    }
                )
            continue
        pending.append((number, record))
        if len(pending) >= 1000:
            settle()
    settle()
    preview.duplicates = [
        {"match_key": key, "rows": rows, "survivor": rows[-1]}
        for key, rows in list(duplicate_rows.items())[:MAX_DUPLICATES_SHOWN]
    ]
    synced = {}
    keys = list(latest)
    for start in range(0, len(keys), 1000):
        synced.update(
            dict(
                SyncedContact.objects.filter(
                    workflow=workflow, match_key__in=keys[start : start + 1000]
                ).values_list("match_key", "values_hash")
            )
        )
    unknown, changed = [], []
    for key, values in latest.items():
        if key not in synced:
            unknown.append(key)
        elif synced[key] == values_hash(values):
            preview.unchanged += 1
        else:
            changed.append(key)
    if check_destination and (unknown or changed):
        # Every record the run would send is looked up, the changed ones too: a contact
        # deleted in HubSpot since the last sync is created again by the run's upsert.
        existing = _existing_in_destination(workflow, unknown + changed, transport)
        preview.would_update += len(existing)
        preview.would_create += len(unknown) + len(changed) - len(existing)
    else:
        preview.would_update += len(changed)
        preview.would_create += len(unknown)
    if not check_destination and unknown:
        preview.warnings.append(
            "Create vs update is judged from Switchyard's own sync history; "
            "contacts created in HubSpot by other tools count as creates."
        )
    return preview


def _existing_in_destination(workflow: Workflow, keys: list[str], transport: Any) -> set[str]:
    from integrations.registry import client_for

    found: set[str] = set()
    try:
        client = client_for(workflow.destination_connection, transport=transport)
        try:
            for start in range(0, len(keys), 100):
                result = client.batch_read(
                    workflow.destination_object,
                    keys[start : start + 100],
                    id_property=workflow.match_on,
                    properties=[workflow.match_on],
                )
                found |= {
                    str(s.properties.get(workflow.match_on, "")).lower() for s in result.succeeded
                }
        finally:
            client.close()
    except ProviderError:
        return set()
    return found & set(keys)
