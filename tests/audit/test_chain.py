"""The hash chain: `manage.py audit verify` passes on an intact log and names the first broken event."""

from __future__ import annotations

import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from audit.chain import chain_verify, event_hash
from audit.models import AuditEvent
from audit.services import audit_event_record
from tests.audit.conftest import ON_POSTGRES, raw_sql, trigger_disabled

pytestmark = pytest.mark.django_db


@pytest.fixture
def events():
    return [
        audit_event_record(action=f"test.event{i}", actor_label="tester", changes={"n": [i, i + 1]})
        for i in range(5)
    ]


def verify() -> str:
    from io import StringIO

    out = StringIO()
    call_command("audit", "verify", stdout=out)
    return out.getvalue()


def test_each_event_links_to_the_previous_ones_hash(events):
    before = AuditEvent.objects.filter(pk__lt=events[0].pk).order_by("-pk").first()
    assert events[0].prev_hash == (before.hash if before else "")
    assert all(len(event.hash) == 64 for event in events)
    for previous, current in zip(events, events[1:], strict=False):
        assert current.prev_hash == previous.hash


def test_the_stored_row_hashes_to_its_hash(events):
    row = AuditEvent.objects.filter(pk=events[2].pk).values().get()
    assert event_hash(row) == events[2].hash


def test_verify_passes_on_an_intact_log(events):
    assert "OK: 5 events verified" in verify()


def test_verify_fails_and_names_an_event_altered_with_raw_sql(events):
    target = events[2]
    with trigger_disabled():
        raw_sql(
            "UPDATE audit_auditevent SET actor_label = 'someone-else' WHERE id = %s", [target.pk]
        )
    with pytest.raises(
        CommandError, match=rf"broken at event {target.pk}: its content does not match"
    ) as failure:
        verify()
    assert failure.value.returncode == 1


def test_verify_detects_an_altered_diff(events):
    with trigger_disabled():
        raw_sql(
            "UPDATE audit_auditevent SET changes = %s WHERE id = %s",
            ['{"n": [0, 0]}', events[1].pk],
        )
    assert chain_verify().broken_id == events[1].pk


def test_verify_fails_and_names_the_event_after_a_deleted_one(events):
    with trigger_disabled():
        raw_sql("DELETE FROM audit_auditevent WHERE id = %s", [events[2].pk])
    with pytest.raises(
        CommandError,
        match=rf"broken at event {events[3].pk}: its prev_hash does not match event {events[1].pk}",
    ) as failure:
        verify()
    assert failure.value.returncode == 1


def test_verify_fails_when_the_oldest_events_were_deleted_without_a_purge_record(events):
    with trigger_disabled():
        raw_sql("DELETE FROM audit_auditevent WHERE id <= %s", [events[1].pk])
    result = chain_verify()
    assert not result.ok
    assert result.broken_id == events[2].pk


def test_verify_fails_when_two_events_swap_places(events):
    first, second = (AuditEvent.objects.filter(pk=e.pk).values().get() for e in events[1:3])
    columns = ["action", "changes", "prev_hash", "hash", "created_at"]
    with trigger_disabled():
        for row, other in ((first, second), (second, first)):
            sets = ", ".join(f"{c} = %s" for c in columns)
            values = [
                other[c] if c != "changes" else '{{"n": {}}}'.format(other["changes"]["n"])
                for c in columns
            ]
            raw_sql(f"UPDATE audit_auditevent SET {sets} WHERE id = %s", [*values, row["id"]])
    assert not chain_verify().ok


def test_verify_on_an_empty_log_passes():
    assert "empty" in verify()


def test_audit_head_prints_the_latest_link(events):
    from io import StringIO

    out = StringIO()
    call_command("audit", "head", stdout=out)
    assert events[-1].hash in out.getvalue()


@ON_POSTGRES
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_fork_the_chain():
    def write(n):
        try:
            for i in range(10):
                audit_event_record(
                    action="test.concurrent", actor_label=f"writer{n}", metadata={"i": i}
                )
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert AuditEvent.objects.count() == 60
    prev_hashes = list(AuditEvent.objects.values_list("prev_hash", flat=True))
    assert len(set(prev_hashes)) == 60, "two events chained to the same predecessor"
    assert chain_verify().ok


@ON_POSTGRES
@pytest.mark.django_db(transaction=True)
def test_the_command_line_exits_1_and_names_the_broken_event():
    import os
    import subprocess
    import sys
    from pathlib import Path

    events = [
        audit_event_record(action="test.cli", actor_label="tester", metadata={"i": i})
        for i in range(3)
    ]
    settings_dict = connection.settings_dict
    url = (
        f"postgres://{settings_dict['USER']}:{settings_dict['PASSWORD'] or ''}@{settings_dict['HOST'] or '127.0.0.1'}:"
        f"{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}"
    )
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    manage = [
        sys.executable,
        str(Path(__file__).resolve().parents[2] / "manage.py"),
        "audit",
        "verify",
    ]
    assert (
        subprocess.run(manage, env=env, capture_output=True, text=True, check=False).returncode == 0
    )
    with trigger_disabled():
        raw_sql("UPDATE audit_auditevent SET metadata = '{\"i\": 9}' WHERE id = %s", [events[1].pk])
    result = subprocess.run(manage, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert f"broken at event {events[1].pk}" in result.stderr
