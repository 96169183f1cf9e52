"""Retention: a dry-run report, a purge that keeps the floors, a daily schedule, a chain that still verifies."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import override_settings
from django_celery_beat.models import PeriodicTask

from audit import retention
from audit.chain import chain_verify
from audit.models import AuditEvent, PrivacyRequest
from audit.retention import (
    register_retention_kind,
    retention_days,
    retention_purge,
    retention_report,
)
from audit.services import audit_event_record
from audit.tasks import retention_purge_task

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def only_audit_kinds(monkeypatch):
    """Kinds other apps registered are out of these tests; each test adds what it needs."""
    monkeypatch.setattr(
        retention,
        "_KINDS",
        {k: v for k, v in retention._KINDS.items() if k in {"audit_events", "privacy_requests"}},
    )


def test_defaults_match_the_policy():
    assert {k: retention_days(k) for k in retention.DEFAULT_RETENTION_DAYS} == {
        "webhook_payloads": 30,
        "run_records": 180,
        "resolved_dead_letters": 90,
        "audit_events": 400,
        "privacy_requests": 730,
    }


@override_settings(
    SWITCHYARD_RETENTION_DAYS={"audit_events": 30, "privacy_requests": 90, "run_records": 7}
)
def test_settings_override_the_defaults_but_never_go_below_the_floors():
    assert retention_days("run_records") == 7
    assert retention_days("audit_events") == 365
    assert retention_days("privacy_requests") == 730


def test_the_dry_run_counts_and_deletes_nothing(record_at):
    for days in (500, 450, 401, 10):
        record_at(days)
    report = {row["kind"]: row for row in retention_report()}
    assert report["audit_events"]["would_delete"] == 3
    assert report["audit_events"]["days"] == 400
    assert AuditEvent.objects.count() == 4
    out = StringIO()
    call_command("retention_report", stdout=out)
    assert "audit_events" in out.getvalue()
    assert "dry run" in out.getvalue()


def test_the_purge_removes_old_audit_events_and_the_chain_still_verifies(record_at):
    old = [record_at(days) for days in (500, 450, 401)]
    young = [record_at(days) for days in (399, 100, 1)]
    assert retention_purge(dry_run=False)["audit_events"] == 3
    remaining = set(AuditEvent.objects.values_list("id", flat=True))
    assert not remaining & {e.pk for e in old}
    assert {e.pk for e in young} <= remaining
    purged = AuditEvent.objects.get(action="audit.purged")
    assert purged.metadata["last_purged_hash"] == old[-1].hash
    assert AuditEvent.objects.filter(action="retention.purged").exists()
    assert chain_verify().ok


@override_settings(SWITCHYARD_RETENTION_DAYS={"audit_events": 30})
def test_audit_events_younger_than_365_days_survive_a_shorter_setting(record_at):
    record_at(366)
    record_at(364)
    assert retention_purge(dry_run=False)["audit_events"] == 1
    assert AuditEvent.objects.filter(action="test.event").count() == 1


def test_privacy_request_events_are_kept_24_months_and_hold_back_the_purge_behind_them(record_at):
    older = record_at(600)
    privacy_event = record_at(500, action="privacy.erasure")
    after = record_at(450)
    assert retention_purge(dry_run=False)["audit_events"] == 1
    ids = set(AuditEvent.objects.values_list("id", flat=True))
    assert older.pk not in ids
    assert {privacy_event.pk, after.pk} <= ids
    assert chain_verify().ok


def test_a_second_purge_finds_nothing_and_verify_still_passes(record_at):
    record_at(500)
    retention_purge(dry_run=False)
    assert retention_purge(dry_run=False)["audit_events"] == 0
    assert chain_verify().ok


def test_privacy_requests_are_purged_after_730_days():
    from datetime import timedelta

    from django.utils import timezone

    old = PrivacyRequest.objects.create(
        kind="erasure",
        email_hash="a" * 64,
        status="completed",
        actor_label="x",
        created_at=timezone.now() - timedelta(days=731),
    )
    young = PrivacyRequest.objects.create(
        kind="erasure",
        email_hash="b" * 64,
        status="completed",
        actor_label="x",
        created_at=timezone.now() - timedelta(days=700),
    )
    assert retention_purge(dry_run=False)["privacy_requests"] == 1
    assert list(PrivacyRequest.objects.values_list("pk", flat=True)) == [young.pk]
    assert old.pk


def test_other_apps_register_their_kinds_with_a_cutoff_factory():
    from datetime import timedelta

    from django.utils import timezone

    Group.objects.create(name="old-kind-row")
    register_retention_kind("run_records", lambda cutoff: Group.objects.filter(name="old-kind-row"))
    assert retention_purge(dry_run=True)["run_records"] == 1
    assert retention_purge(dry_run=False)["run_records"] == 1
    assert not Group.objects.filter(name="old-kind-row").exists()
    # A factory without arguments is filtered on its date field.
    register_retention_kind("webhook_payloads", lambda: PrivacyRequest.objects.all())
    PrivacyRequest.objects.create(
        kind="access",
        email_hash="c" * 64,
        status="completed",
        actor_label="x",
        created_at=timezone.now() - timedelta(days=31),
    )
    assert retention_purge(dry_run=True)["webhook_payloads"] == 1


def test_a_broken_kind_does_not_stop_the_others(record_at):
    record_at(500)
    register_retention_kind(
        "run_records", lambda cutoff: AuditEvent.objects.filter(nonexistent_field=1)
    )
    report = retention_purge(dry_run=False)
    assert report["run_records"] == -1
    assert report["audit_events"] == 1
    event = AuditEvent.objects.get(action="retention.purged")
    assert "run_records" in event.metadata["failed"]


def test_the_daily_purge_is_scheduled_in_celery_beat_at_0330_utc():
    task = PeriodicTask.objects.get(name="Retention purge")
    assert task.task == "audit.tasks.retention_purge_task"
    assert task.enabled
    assert (task.crontab.minute, task.crontab.hour, str(task.crontab.timezone)) == (
        "30",
        "3",
        "UTC",
    )


def test_the_task_runs_the_purge(record_at):
    record_at(500)
    assert retention_purge_task.apply().get()["audit_events"] == 1


def test_the_seed_migration_keeps_an_admins_edit():
    from importlib import import_module

    from django.apps import apps

    task = PeriodicTask.objects.get(name="Retention purge")
    task.enabled = False
    task.save()
    import_module("audit.migrations.0005_retention_schedule").seed(apps, None)
    task.refresh_from_db()
    assert task.enabled is False
    assert PeriodicTask.objects.filter(name="Retention purge").count() == 1


def test_the_event_at_the_cut_keeps_its_own_hash(record_at):
    record_at(500)
    kept = record_at(10)
    retention_purge(dry_run=False)
    assert AuditEvent.objects.get(pk=kept.pk).hash == kept.hash
    assert audit_event_record(action="test.after_purge").prev_hash
