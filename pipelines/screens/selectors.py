"""Reads for the screens. The core's pipelines/selectors.py has the shared ones (run progress,
current mapping); these are the lists, filters and lineage only the screens need."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from django.core.cache import cache
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from integrations.errors import ProviderError
from pipelines.dead_letter_kinds import (
    LETTER_KINDS,
    letter_kind,
    letter_kind_stages,
    letters_by_kind,
)
from pipelines.models import (
    DeadLetter,
    FieldMappingVersion,
    RecordSource,
    Run,
    RunRecord,
    RunTrigger,
    Workflow,
    WorkflowType,
)
from quality.transforms import TRANSFORMS

# HubSpot's property list changes when someone adds a property in the portal: a few minutes
# of staleness is fine for an editor, and saves a call on every page load.
PROPERTIES_CACHE_SECONDS = 5 * 60
SAMPLE_ROWS = 10


def workflows_for_screens() -> QuerySet[Workflow]:
    """Contact-sync workflows (routing workflows have no mapping, imports or dead letters)."""
    return Workflow.objects.filter(type=WorkflowType.CLAY_HUBSPOT_CONTACTS).select_related(
        "destination_connection"
    )


# --- runs ---------------------------------------------------------------------------------------


def run_list(
    *, workflow_id: int | None = None, status: str = "", trigger: str = ""
) -> QuerySet[Run]:
    runs = Run.objects.select_related("workflow", "triggered_by").order_by("-id")
    if workflow_id:
        runs = runs.filter(workflow_id=workflow_id)
    if status:
        runs = runs.filter(status=status)
    if trigger:
        runs = runs.filter(trigger=trigger)
    return runs


def run_get(*, run_id: int) -> Run | None:
    return (
        Run.objects.select_related("workflow", "parent", "mapping_version", "triggered_by")
        .filter(pk=run_id)
        .first()
    )


def run_children(*, run: Run) -> QuerySet[Run]:
    return run.children.order_by("id")


def run_reprocess_origins(*, run_ids: list[int]) -> dict[int, list[int]]:
    """For reprocess runs: the runs their dead letters came from, in order. A selection may
    span several runs, and Run.parent holds only the one most letters came from."""
    origins: dict[int, list[int]] = {}
    pairs = (
        DeadLetter.objects.filter(resolved_in_run_id__in=run_ids)
        .order_by("resolved_in_run_id", "run_id")
        .values_list("resolved_in_run_id", "run_id")
        .distinct()
    )
    for reprocess_id, origin_id in pairs:
        origins.setdefault(reprocess_id, []).append(origin_id)
    return origins


def run_records(*, run: Run, state: str = "") -> QuerySet[RunRecord]:
    records = (
        RunRecord.objects.filter(run=run)
        .only(
            "pk",
            "run_id",
            "position",
            "source",
            "row_number",
            "event_id",
            "match_key",
            "state",
            "skip_reason",
            "hubspot_id",
            "reprocessed_from_id",
        )
        .annotate(origin_run_id=F("reprocessed_from__run_id"))
        .order_by("position")
    )
    return records.filter(state=state) if state else records


def run_record_get(*, run: Run, record_id: int) -> RunRecord | None:
    return (
        RunRecord.objects.select_related("dedupe_survivor", "reprocessed_from", "inbound_event")
        .filter(run=run, pk=record_id)
        .first()
    )


def run_record_origin(*, record: RunRecord) -> str:
    """Where a record came from, in words: "row 7 of contacts.csv", "event evt_1"."""
    if record.source == RecordSource.CSV:
        return f"row {record.row_number} of {record.run.input_filename or 'the file'}"
    if record.source == RecordSource.REPROCESS:
        letter = record.reprocessed_from
        source = f"run {letter.run_id}" if letter else "an earlier run"
        where = f"row {record.row_number} of {source}" if record.row_number else source
        return f"{where} (dead letter {record.reprocessed_from_id})"
    return f"event {record.event_id}" + (f", item {record.row_number}" if record.row_number else "")


# --- dead letters -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeadLetterFilters:
    workflow_id: int | None = None
    run_id: int | None = None
    category: str = ""
    status: str = "open"  # open | resolved | all
    created_from: date | None = None
    created_to: date | None = None
    search: str = ""  # an email (or part of one) or words of the error
    reason: str = ""
    kind: str = ""  # "" any, "records" (pipeline records), or a letter kind's stage ("deliver")

    def as_query(self) -> dict[str, Any]:
        """Back to GET parameters, so links and the export keep the filter."""
        data = {
            "workflow": self.workflow_id,
            "run": self.run_id,
            "category": self.category,
            "q": self.search,
            "reason": self.reason,
            "status": self.status,
            "created_from": self.created_from,
            "created_to": self.created_to,
            "kind": self.kind,
        }
        return {k: v for k, v in data.items() if v not in (None, "")}


def dead_letter_list(*, filters: DeadLetterFilters) -> QuerySet[DeadLetter]:
    letters = DeadLetter.objects.select_related(
        "run", "record", "workflow", "resolved_by", "resolved_in_run"
    )
    if filters.workflow_id:
        letters = letters.filter(workflow_id=filters.workflow_id)
    if filters.run_id:
        letters = letters.filter(run_id=filters.run_id)
    if filters.kind == "records":
        letters = letters.exclude(stage__in=letter_kind_stages())
    elif filters.kind:
        letters = letters.filter(stage=filters.kind)
    if filters.category:
        letters = letters.filter(category=filters.category)
    if filters.reason:
        letters = letters.filter(reason=filters.reason)
    if filters.search:
        term = filters.search.strip()
        letters = letters.filter(
            Q(identity__icontains=term) | Q(reason__icontains=term) | Q(errors__icontains=term)
        )
    if filters.status == "open":
        letters = letters.filter(resolution="")
    elif filters.status == "resolved":
        letters = letters.exclude(resolution="")
    tz = timezone.get_current_timezone()
    if filters.created_from:
        letters = letters.filter(
            created_at__gte=datetime.combine(filters.created_from, time.min, tzinfo=tz)
        )
    if filters.created_to:
        letters = letters.filter(
            created_at__lte=datetime.combine(filters.created_to, time.max, tzinfo=tz)
        )
    return letters.order_by("-id")


# What the queue's rows show (templates/pipelines/dead_letter_list.html), and nothing else:
# not the JSON of the letter or of its record (a record's raw row is most of a records table's
# size), nor the run, the resolving run or the user, whose ids are enough for the links.
_LIST_COLUMNS = (
    "run_id",
    "workflow__slug",
    "record__row_number",
    "record__event_id",
    "identity",
    "category",
    "errors",
    "created_at",
    "resolution",
    "resolution_note",
    "resolved_in_run_id",
)


def dead_letter_list_page(*, filters: DeadLetterFilters) -> QuerySet[DeadLetter]:
    """The queue as the list page shows it: only the columns it prints."""
    return (
        dead_letter_list(filters=filters)
        .select_related(None)
        .select_related("record", "workflow")
        .only(*_LIST_COLUMNS)
    )


def run_records_count(*, run: Run, state: str = "") -> int | None:
    """How many records a finished run's page lists, from the run's own counters (a COUNT(*)
    over a 100k-record run cost seconds with cold caches). None: count them (still running)."""
    if not run.is_finished:
        return None
    by_state = {
        "": run.records_in,
        "loaded": run.succeeded,
        "dead_lettered": run.dead_lettered,
        "skipped": run.skipped,
    }
    return by_state.get(state)


def dead_letter_groups(*, filters: DeadLetterFilters, limit: int = 20) -> list[dict[str, Any]]:
    """Open letters of the filter grouped by what needs fixing: category and reason, largest
    first, each with the fix to apply."""
    from pipelines.dead_letter_reasons import category_label, fix_for

    open_filter = DeadLetterFilters(**{**filters.__dict__, "status": "open"})
    rows = (
        dead_letter_list(filters=open_filter)
        .order_by()
        .values("category", "reason")
        .annotate(count=Count("id"))
        .order_by("-count", "category", "reason")[:limit]
    )
    return [
        {
            **row,
            "label": category_label(row["category"]),
            "fix": fix_for(category=row["category"], reason=row["reason"]),
        }
        for row in rows
    ]


def dead_letter_categories() -> list[str]:
    return list(
        DeadLetter.objects.order_by("category").values_list("category", flat=True).distinct()
    )


def dead_letter_get(*, dead_letter_id: int) -> DeadLetter | None:
    return (
        DeadLetter.objects.select_related(
            "run__mapping_version", "record", "workflow", "resolved_by", "resolved_in_run"
        )
        .filter(pk=dead_letter_id)
        .first()
    )


def dead_letter_origins(*, letters: list[DeadLetter]) -> None:
    """Sets ``letter.origin`` (where it comes from, as the queue prints it) on the letters of
    another app's kind (an event delivery's); pipeline letters show their run and record."""
    _records, others = letters_by_kind(letters)
    for stage, kind_letters in others.items():
        origins = LETTER_KINDS[stage].origins(kind_letters)
        for letter in kind_letters:
            letter.origin = origins.get(letter.pk)


def dead_letter_editable_properties(*, dead_letter: DeadLetter) -> list[str]:
    """The properties the edit form offers: what the letter's payload holds, plus every
    target of the mapping its run used. A record rejected for an invalid email has no
    "email" in its payload, yet that is exactly the field the admin has to fill in.
    A delivery letter's payload is nested: one box per leaf, by dotted name."""
    kind = letter_kind(dead_letter.stage)
    if kind is not None:
        return list(kind.fields(dead_letter))
    names = list(dead_letter.payload)
    version = dead_letter.run.mapping_version
    for rule in version.rules if version else []:
        if rule.get("to") and rule["to"] not in names:
            names.append(rule["to"])
    return names


# --- mappings -----------------------------------------------------------------------------------


def field_mapping_versions(*, workflow: Workflow, limit: int = 10) -> list[FieldMappingVersion]:
    return list(workflow.mapping_versions.order_by("-version")[:limit])


@dataclass(frozen=True)
class PropertyCatalog:
    """The destination's properties, or why they could not be read."""

    properties: list[dict[str, Any]]
    error: str = ""

    @property
    def reachable(self) -> bool:
        return not self.error

    def by_name(self) -> dict[str, dict[str, Any]]:
        return {p["name"]: p for p in self.properties}


def hubspot_property_catalog(*, workflow: Workflow) -> PropertyCatalog:
    """The portal's writable-or-not property definitions for the workflow's object, cached.
    A failure is not cached: the next page load tries again."""
    from integrations.registry import client_for

    connection = workflow.destination_connection
    key = f"pipelines:screens:properties:{connection.pk}:{workflow.destination_object}"
    cached = cache.get(key)
    if cached is not None:
        return PropertyCatalog(properties=cached)
    try:
        with client_for(connection) as client:
            properties = client.properties(workflow.destination_object)
    except (ProviderError, ValueError) as exc:
        return PropertyCatalog(properties=[], error=str(exc) or exc.__class__.__name__)
    properties = sorted(properties, key=lambda p: (p.get("label") or p["name"]).casefold())
    cache.set(key, properties, PROPERTIES_CACHE_SECONDS)
    return PropertyCatalog(properties=properties)


def transform_catalog() -> list[dict[str, Any]]:
    """Name, description and parameters of every named transform, for the editor's help."""
    return [
        {
            "name": spec.name,
            "description": spec.description,
            "params": list(spec.params),
            "optional_params": list(spec.optional_params),
        }
        for spec in TRANSFORMS.values()
    ]


def field_mapping_sample_rows(
    *, workflow: Workflow, limit: int = SAMPLE_ROWS
) -> tuple[Run | None, list[RunRecord]]:
    """Raw rows of the workflow's last CSV import (or, failing that, its last run with
    records), as the mapping preview's input."""
    runs = Run.objects.filter(workflow=workflow, records__isnull=False).order_by("-id")
    run = runs.filter(trigger=RunTrigger.CSV).first() or runs.first()
    if run is None:
        return None, []
    return run, list(RunRecord.objects.filter(run=run).order_by("position")[:limit])
