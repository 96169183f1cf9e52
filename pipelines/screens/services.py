"""The screens' few writes that the core services do not cover on their own: keeping an
upload between preview and confirm, auditing downloads and exports, and saving a mapping with
the portal check. Each calls the core services for the real work and never re-audits what
they already audit (run.started, dead_letter.*, field_mapping.version_created).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import IO, Any

from django.core.files import File
from django.core.files.storage import default_storage
from django.http import HttpRequest
from django.utils import timezone

from audit.services import audit_event_record
from pipelines.csv_files import CsvRefused
from pipelines.dead_letter_kinds import LETTER_KINDS, letters_by_kind
from pipelines.mapping import columns_match, mapping_rules, record_transform
from pipelines.models import DeadLetter, Run, Workflow
from pipelines.screens.selectors import (
    DeadLetterFilters,
    dead_letter_list,
    field_mapping_sample_rows,
    hubspot_property_catalog,
)
from pipelines.selectors import field_mapping_current
from pipelines.services.dead_letters import dead_letter_reprocess, dead_letters_export_csv
from pipelines.services.mappings import (
    field_mapping_rules_check,
    field_mapping_validate,
    field_mapping_version_create,
)
from pipelines.services.preview import ImportPreview, run_preview_csv
from pipelines.services.staging import CsvColumnsMissing, run_create_csv

PENDING_DIR = "imports/pending"
# An upload nobody confirmed is removed after this long: at the next upload, and by the hourly
# "Expire pending uploads" beat task (an abandoned preview holds people's rows; erasure
# covers it too, pipelines/privacy_stores.py).
PENDING_MAX_AGE = timedelta(days=1)


# --- CSV import wizard --------------------------------------------------------------------------


@dataclass
class PendingImport:
    """An accepted upload waiting for the admin's confirmation."""

    path: str
    filename: str
    workflow_id: int
    preview: ImportPreview | None
    # Set instead of a preview when a required column was not found: the admin picks it.
    missing: CsvColumnsMissing | None = None


def import_upload_create(
    *,
    workflow: Workflow,
    file: IO[bytes],
    filename: str,
    check_destination: bool,
    actor: Any,
    request: HttpRequest | None = None,
) -> PendingImport:
    """Dry-run the file (core preview: detection, column matching, counts, row errors), then
    keep it for the confirm step. A refused file raises CsvRefused and nothing is kept; the
    refusal is audited too, because an admin asking "did my upload arrive?" needs both.
    A file lacking a required column is kept too: the admin may pick the column that holds it."""
    missing = None
    try:
        preview = run_preview_csv(workflow=workflow, file=file, check_destination=check_destination)
    except CsvColumnsMissing as columns_missing:
        preview, missing = None, columns_missing
    except CsvRefused as refused:
        audit_event_record(
            action="import.refused",
            actor=actor,
            obj=workflow,
            request=request,
            metadata={"file": filename[:255], "reason": refused.message},
        )
        raise
    pending_uploads_expire()
    file.seek(0)
    path = default_storage.save(f"{PENDING_DIR}/{uuid.uuid4().hex}.csv", File(file, name=filename))
    audit_event_record(
        action="import.uploaded",
        actor=actor,
        obj=workflow,
        request=request,
        metadata={
            "file": filename[:255],
            **(
                {
                    "encoding": preview.encoding,
                    "delimiter": preview.delimiter,
                    "records_in": preview.records_in,
                    "invalid": preview.invalid,
                }
                if preview
                else {"missing_columns": missing.columns.missing_required if missing else []}
            ),
        },
    )
    return PendingImport(
        path=path, filename=filename, workflow_id=workflow.pk, preview=preview, missing=missing
    )


def import_preview_again(
    *, workflow: Workflow, path: str, filename: str, check_destination: bool
) -> PendingImport:
    """The kept upload previewed again (after the admin picked its columns). Writes nothing."""
    if not path.startswith(PENDING_DIR + "/") or not default_storage.exists(path):
        raise CsvRefused("This upload has expired or was already imported; upload the file again.")
    with default_storage.open(path, "rb") as upload:
        try:
            preview = run_preview_csv(
                workflow=workflow, file=upload, check_destination=check_destination
            )
        except CsvColumnsMissing as missing:
            return PendingImport(path, filename, workflow.pk, preview=None, missing=missing)
    return PendingImport(path, filename, workflow.pk, preview=preview)


def import_columns_apply(
    *,
    workflow: Workflow,
    picks: Mapping[str, str],
    extras: Mapping[str, str],
    actor: Any,
) -> MappingSaved:
    """Remember the admin's column choices in the mapping (a new, audited version): a picked
    header that is not the rule's own name becomes an alias of that rule, tried first at every
    later import; an unmapped column sent to a property becomes a new rule."""
    current = field_mapping_current(workflow=workflow)
    rules = [dict(rule) for rule in (current.rules if current else [])]
    for rule in rules:
        header = picks.get(str(rule["from"])) or ""
        aliases = list(rule.get("aliases") or [])
        if header and header != rule["from"] and header not in aliases:
            rule["aliases"] = [header, *aliases]
    taken = {str(rule["to"]) for rule in rules}
    for header, target in extras.items():
        if target in taken:
            raise MappingRejected([f"{target} is already filled by another column."])
        rules.append({"from": header, "to": target, "transforms": ["strip"], "required": False})
        taken.add(target)
    changed = [s for s, h in picks.items() if h and h != s]
    note = "Columns picked in the import wizard: " + ", ".join(
        [f"{h} → {s}" for s, h in picks.items() if h and h != s]
        + [f"{h} → {t}" for h, t in extras.items()]
    )
    if not changed and not extras:
        return MappingSaved(version=current, created=False)
    return field_mapping_save(workflow=workflow, rules=rules, note=note[:300], actor=actor)


def import_confirm(*, workflow: Workflow, path: str, filename: str, actor: Any) -> Run:
    """Start the run from the kept upload; the core copies the file to the run, audits
    run.started and hands the staging to Celery once committed."""
    if not path.startswith(PENDING_DIR + "/") or not default_storage.exists(path):
        raise CsvRefused("This upload has expired or was already imported; upload the file again.")
    with default_storage.open(path, "rb") as upload:
        run = run_create_csv(workflow=workflow, file=upload, filename=filename, actor=actor)
    default_storage.delete(path)
    return run


def import_discard(*, path: str) -> None:
    if path.startswith(PENDING_DIR + "/") and default_storage.exists(path):
        default_storage.delete(path)


def pending_uploads_expire() -> int:
    """Delete the uploads nobody confirmed within PENDING_MAX_AGE; returns how many."""
    try:
        _, names = default_storage.listdir(PENDING_DIR)
    except FileNotFoundError:
        return 0
    cutoff = timezone.now() - PENDING_MAX_AGE
    expired = 0
    for name in names:
        path = f"{PENDING_DIR}/{name}"
        if default_storage.get_modified_time(path) < cutoff:
            default_storage.delete(path)
            expired += 1
    return expired


# --- dead letters -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SentAgain:
    """What "reprocess" did: new runs for pipeline letters, redeliveries for other kinds'
    letters (an event delivery's: pipelines/dead_letter_kinds.py)."""

    runs: list[Run] = field(default_factory=list)
    redelivered: int = 0
    noun: str = ""


def dead_letters_send_again(*, dead_letter_ids: list[int], actor: Any) -> SentAgain:
    """A selection: its pipeline letters reprocessed in a new run (one workflow at a time, as
    the core requires), its delivery letters redelivered."""
    letters = DeadLetter.objects.filter(pk__in=dead_letter_ids).only("pk", "stage")
    records, others = letters_by_kind(letters)
    redelivered, nouns = 0, []
    for stage, kind_letters in others.items():
        kind = LETTER_KINDS[stage]
        redelivered += kind.redeliver(dead_letter_ids=[d.pk for d in kind_letters], actor=actor)
        nouns.append(kind.noun)
    runs = []
    if records or not others:
        runs = [dead_letter_reprocess(dead_letter_ids=[d.pk for d in records], actor=actor)]
    return SentAgain(runs=runs, redelivered=redelivered, noun=" or ".join(nouns))


def dead_letters_reprocess_matching(*, filters: DeadLetterFilters, actor: Any) -> SentAgain:
    """ "Reprocess all" of a filter (typically one category): the core reprocesses one
    workflow at a time, so one new run per workflow among the open letters; delivery letters
    are redelivered."""
    letters = dead_letter_list(filters=DeadLetterFilters(**{**filters.__dict__, "status": "open"}))
    by_workflow: dict[int, list[int]] = {}
    by_kind: dict[str, list[int]] = {}
    for letter_id, workflow_id, stage in letters.values_list("pk", "workflow_id", "stage"):
        if stage in LETTER_KINDS:
            by_kind.setdefault(stage, []).append(letter_id)
        else:
            by_workflow.setdefault(workflow_id, []).append(letter_id)
    redelivered = sum(
        LETTER_KINDS[stage].redeliver(dead_letter_ids=ids, actor=actor)
        for stage, ids in by_kind.items()
    )
    return SentAgain(
        runs=[
            dead_letter_reprocess(dead_letter_ids=ids, actor=actor) for ids in by_workflow.values()
        ],
        redelivered=redelivered,
        noun=" or ".join(LETTER_KINDS[stage].noun for stage in by_kind),
    )


def dead_letters_export(
    *, filters: DeadLetterFilters, actor: Any, request: HttpRequest | None = None
) -> Iterator[str]:
    """The filtered letters as CSV lines (formula cells escaped by the core). The export holds
    personal data, so who took what is audited: the filter and the count, never the rows."""
    letters = dead_letter_list(filters=filters)
    audit_event_record(
        action="dead_letter.exported",
        actor=actor,
        object_type=DeadLetter._meta.label_lower,
        request=request,
        metadata={
            "filters": {k: str(v) for k, v in filters.as_query().items()},
            "count": letters.count(),
        },
    )
    return dead_letters_export_csv(queryset=letters)


# --- runs ---------------------------------------------------------------------------------------


def run_input_file_open(*, run: Run, actor: Any, request: HttpRequest | None = None) -> File:
    """The run's uploaded file, for download. A download of personal data: audited."""
    if not run.input_file:
        raise FileNotFoundError(f"run {run.pk} has no input file")
    handle = run.input_file.open("rb")
    audit_event_record(
        action="run.input_file_downloaded",
        actor=actor,
        obj=run,
        request=request,
        metadata={"file": run.input_filename},
    )
    return handle


# --- field mappings -----------------------------------------------------------------------------

# field_mapping_validate reports an unreachable portal as one more problem with this opening.
UNCHECKED_PREFIX = "HubSpot properties could not be checked"


class MappingRejected(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


@dataclass
class MappingSaved:
    version: Any
    created: bool
    warnings: list[str] = field(default_factory=list)


def field_mapping_save(
    *, workflow: Workflow, rules: Sequence[Mapping[str, Any]], note: str, actor: Any
) -> MappingSaved:
    """Validate against the portal, then save a new version (the core audits it).

    When HubSpot is unreachable the shape and transform checks still apply and the version is
    saved with a warning: an outage must not stop an admin fixing a transform chain, and
    the portal check runs again at the next save and on every load (a 400 names the value).
    """
    problems = field_mapping_validate(workflow=workflow, rules=rules)
    warnings = [p for p in problems if p.startswith(UNCHECKED_PREFIX)]
    problems = [p for p in problems if not p.startswith(UNCHECKED_PREFIX)]
    if not warnings:
        problems += _default_values_outside_options(workflow=workflow, rules=rules)
    if problems:
        raise MappingRejected(problems)
    current = workflow.mapping_versions.order_by("-version").first()
    try:
        version = field_mapping_version_create(
            workflow=workflow, rules=rules, actor=actor, note=note
        )
    except ValueError as exc:
        raise MappingRejected([str(exc)]) from None
    return MappingSaved(
        version=version, created=current is None or version.pk != current.pk, warnings=warnings
    )


def _default_values_outside_options(
    *, workflow: Workflow, rules: Sequence[Mapping[str, Any]]
) -> list[str]:
    """field_mapping_validate checks map_values outputs; a plain ``default`` transform on an
    enumeration property can set an invalid option just as well, so it is checked here too."""
    catalog = hubspot_property_catalog(workflow=workflow)
    properties = catalog.by_name()
    problems = []
    for number, rule in enumerate(rules, start=1):
        prop = properties.get(str(rule.get("to")))
        if not prop or prop.get("type") != "enumeration":
            continue
        allowed = {str(o.get("value")) for o in prop.get("options") or []}
        for item in rule.get("transforms") or []:
            if isinstance(item, Mapping) and item.get("name") == "default":
                value = (item.get("params") or {}).get("value")
                if value is not None and str(value) not in allowed:
                    problems.append(
                        f"Rule {number} ({rule.get('from')} → {rule.get('to')}): default {value!r} is not among "
                        f"the option values of {rule.get('to')!r} ({', '.join(sorted(allowed)) or 'none'})."
                    )
    return problems


def field_mapping_preview(
    *, workflow: Workflow, rules: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The unsaved rules applied to sample rows of the last import. Writes nothing."""
    problems = field_mapping_rules_check(rules=rules)
    if problems:
        return {"ok": False, "problems": problems, "columns": [], "rows": []}
    compiled = mapping_rules(rules)
    run, records = field_mapping_sample_rows(workflow=workflow)
    if run is None:
        return {
            "ok": False,
            "problems": [
                "No import yet: upload a CSV first, then preview the mapping on its rows."
            ],
            "columns": [],
            "rows": [],
        }
    headers = list(dict.fromkeys(key for record in records for key in record.raw))
    columns = columns_match(headers, rules).matched
    targets = list(dict.fromkeys(rule.target for rule in compiled))
    rows = []
    for record in records:
        result = record_transform(record.raw, compiled, match_on=workflow.match_on, columns=columns)
        rows.append(
            {
                "origin": f"row {record.row_number}"
                if record.row_number
                else f"record {record.position}",
                "values": {t: result.values.get(t) for t in targets},
                "errors": [f"{e['source']} → {e['target']}: {e['message']}" for e in result.errors],
            }
        )
    return {"ok": True, "problems": [], "run": run.pk, "columns": targets, "rows": rows}
