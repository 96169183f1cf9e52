"""Audit tampering `audit verify` used to miss: rewriting an event and recomputing the
following hashes with the public function, deleting the last events, deleting them all."""

from __future__ import annotations

import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from audit import chain
from audit.models import AuditEvent
from audit.services import audit_event_record
from tests.audit.conftest import raw_sql, trigger_disabled

pytestmark = pytest.mark.django_db


@pytest.fixture
def events():
    return [audit_event_record(action=f"test.event{i}", actor_label="tester") for i in range(6)]


def audit(*args: str) -> str:
    out = StringIO()
    call_command("audit", *args, stdout=out)
    return out.getvalue()


def anchor() -> tuple[str, str]:
    line = audit("head").splitlines()[0]
    words = line.split()
    return words[words.index("hash") + 1], words[words.index("count") + 1]


def test_rewriting_an_event_and_recomputing_the_chain_without_the_key_is_detected(events):
    """A DBA rewrites event 3, then recomputes every following hash with plain SHA-256 over
    the same canonical content (the function anyone can read in the source)."""
    rows = list(AuditEvent.objects.order_by("id").values("id", "hash", *chain.HASHED_FIELDS))
    previous_hash = rows[1]["hash"]
    with trigger_disabled():
        for row in rows[2:]:
            if row["id"] == rows[2]["id"]:
                row["actor_label"] = "someone-else"
            row["prev_hash"] = previous_hash
            forged = hashlib.sha256(chain._canonical(row)).hexdigest()
            raw_sql(
                "UPDATE audit_auditevent SET actor_label = %s, prev_hash = %s, hash = %s "
                "WHERE id = %s",
                [row["actor_label"], row["prev_hash"], forged, row["id"]],
            )
            previous_hash = forged
    with pytest.raises(CommandError, match=rf"broken at event {rows[2]['id']}"):
        audit("verify")


def test_deleting_the_last_events_is_detected_against_an_anchor(events):
    head, count = anchor()
    assert int(count) == 6
    assert "OK: 6 events verified" in audit("verify", "--head", head, "--count", count)
    with trigger_disabled():
        raw_sql("DELETE FROM audit_auditevent WHERE id >= %s", [events[4].pk])
    assert "OK: 4 events verified" in audit("verify")  # the chain alone cannot tell
    with pytest.raises(CommandError, match="truncated: the anchored event .* is missing") as fail:
        audit("verify", "--head", head, "--count", count)
    assert fail.value.returncode == 1


def test_deleting_every_event_is_detected_against_an_anchor(events):
    head, count = anchor()
    with trigger_disabled():
        raw_sql("DELETE FROM audit_auditevent")
    with pytest.raises(CommandError, match="now holds 0"):
        audit("verify", "--head", head, "--count", count)


def test_deleting_events_before_the_anchor_is_detected_by_the_count(events):
    head, count = anchor()
    with trigger_disabled():
        raw_sql("DELETE FROM audit_auditevent WHERE id <= %s", [events[1].pk])
    with pytest.raises(CommandError):
        audit("verify", "--head", head, "--count", count)


def test_the_chain_keys_rotate_like_the_field_keys(settings):
    settings.AUDIT_CHAIN_KEYS = ["old-chain-key-0123456789"]
    audit_event_record(action="test.before", actor_label="tester")
    settings.AUDIT_CHAIN_KEYS = ["new-chain-key-9876543210", "old-chain-key-0123456789"]
    audit_event_record(action="test.after", actor_label="tester")
    assert "OK: 2 events verified" in audit("verify")
    settings.AUDIT_CHAIN_KEYS = ["new-chain-key-9876543210"]  # the old key dropped too soon
    with pytest.raises(CommandError, match="does not match its hash"):
        audit("verify")
