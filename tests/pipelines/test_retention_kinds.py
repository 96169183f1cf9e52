"""Pipelines' retention kinds: each ages its rows by the right date and purges only those."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.retention import registered_retention_kinds, retention_purge
from pipelines.models import (
    DeadLetter,
    InboundEvent,
    RecordSource,
    RecordState,
    Run,
    RunRecord,
    RunStatus,
)
from tests.pipelines.factories import WorkflowFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def ago(days: float):
    return NOW - timedelta(days=days)


@pytest.fixture
def workflow(db):
    return WorkflowFactory()


def make_run(workflow, *, status=RunStatus.SUCCESS, finished_days_ago: float | None = 1) -> Run:
    finished = ago(finished_days_ago) if finished_days_ago is not None else None
    return Run.objects.create(workflow=workflow, trigger="csv", status=status, finished_at=finished)


def make_record(run: Run, *, created_days_ago: float = 1, position: int | None = None) -> RunRecord:
    position = position or RunRecord.objects.filter(run=run).count() + 1
    return RunRecord.objects.create(
        run=run,
        position=position,
        source=RecordSource.CSV,
        raw={"Email": f"p{position}@example.com"},
        match_key=f"p{position}@example.com",
        state=RecordState.LOADED,
        created_at=ago(created_days_ago),
        updated_at=ago(created_days_ago),
    )


def make_letter(
    record: RunRecord,
    *,
    resolution: str = "",
    resolved_days_ago: float | None = None,
    created_days_ago: float = 1,
) -> DeadLetter:
    letter = DeadLetter.objects.create(
        run=record.run,
        record=record,
        workflow=record.run.workflow,
        stage="load",
        category="invalid",
        errors=["bad"],
        payload={"email": record.match_key},
        resolution=resolution,
        resolved_at=ago(resolved_days_ago) if resolved_days_ago is not None else None,
    )
    DeadLetter.objects.filter(pk=letter.pk).update(created_at=ago(created_days_ago))
    return letter


def make_event(*, received_days_ago: float, processed: bool = True) -> InboundEvent:
    return InboundEvent.objects.create(
        source="clay",
        dedupe_key=f"k{InboundEvent.objects.count()}-{received_days_ago}-{processed}",
        payload={"Email": "x@example.com"},
        received_at=ago(received_days_ago),
        processed_at=ago(received_days_ago) if processed else None,
    )


def test_the_pipelines_kinds_are_registered():
    assert {"webhook_payloads", "run_records", "resolved_dead_letters"} <= set(
        registered_retention_kinds()
    )


def test_webhook_payloads_age_by_received_at_and_unprocessed_ones_stay():
    old, young = make_event(received_days_ago=31), make_event(received_days_ago=29)
    pending = make_event(received_days_ago=60, processed=False)

    assert retention_purge(dry_run=True, now=NOW)["webhook_payloads"] == 1
    assert retention_purge(dry_run=False, now=NOW)["webhook_payloads"] == 1
    assert set(InboundEvent.objects.values_list("pk", flat=True)) == {young.pk, pending.pk}
    assert not InboundEvent.objects.filter(pk=old.pk).exists()


def test_run_records_go_with_finished_runs_older_than_the_period(workflow):
    old_run = make_run(workflow, finished_days_ago=181)
    old_records = [make_record(old_run, created_days_ago=200) for _ in range(3)]
    young_run = make_run(workflow, finished_days_ago=179)
    young = make_record(
        young_run, created_days_ago=200
    )  # created long ago, but the run finished recently
    running = make_run(workflow, status=RunStatus.RUNNING, finished_days_ago=None)
    unfinished = make_record(running, created_days_ago=400)

    assert retention_purge(dry_run=True, now=NOW)["run_records"] == 3
    assert retention_purge(dry_run=False, now=NOW)["run_records"] == 3
    assert not RunRecord.objects.filter(pk__in=[r.pk for r in old_records]).exists()
    assert set(RunRecord.objects.values_list("pk", flat=True)) == {young.pk, unfinished.pk}
    assert Run.objects.filter(pk=old_run.pk).exists()  # the run's history stays


def test_resolved_dead_letters_age_by_resolved_at_and_unresolved_ones_are_never_purged(workflow):
    run = make_run(workflow, finished_days_ago=400)
    old_resolved = make_letter(
        make_record(run), resolution="ignored", resolved_days_ago=91, created_days_ago=300
    )
    young_resolved = make_letter(
        make_record(run), resolution="reprocessed", resolved_days_ago=10, created_days_ago=300
    )
    unresolved = make_letter(make_record(run), created_days_ago=1000)

    report = retention_purge(dry_run=True, now=NOW)
    assert report["resolved_dead_letters"] == 1
    # The records of the run are past 180 days, but those with a letter wait for it.
    assert report["run_records"] == 0

    retention_purge(dry_run=False, now=NOW)
    assert set(DeadLetter.objects.values_list("pk", flat=True)) == {
        young_resolved.pk,
        unresolved.pk,
    }
    assert not DeadLetter.objects.filter(pk=old_resolved.pk).exists()
    # The next day, the record whose letter went is purged; the unresolved letter's record stays.
    retention_purge(dry_run=False, now=NOW + timedelta(days=1))
    assert set(RunRecord.objects.values_list("pk", flat=True)) == {
        young_resolved.record_id,
        unresolved.record_id,
    }
    assert DeadLetter.objects.filter(pk=unresolved.pk).exists()
