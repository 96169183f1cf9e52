"""Secrets never reach the audit log; personal data reaches it only as keyed hashes."""

from __future__ import annotations

import pytest
from django.test import override_settings

from audit.csv_safety import csv_safe_cell
from audit.masking import SECRET_CHANGED, changes_diff, hash_email, mask_secret
from audit.models import AuditEvent
from audit.services import audit_event_record


def test_mask_secret_shows_bullets_and_only_the_last_four_characters():
    assert mask_secret("pat-na1-1234567890abcdef") == "••••cdef"


def test_mask_secret_shows_nothing_of_a_short_secret():
    assert mask_secret("hunter22") == "••••"
    assert mask_secret("") == ""


def test_hash_email_ignores_case_and_surrounding_spaces():
    assert hash_email("  Ann.Lee@Example.COM ") == hash_email("ann.lee@example.com")
    assert len(hash_email("a@b.co")) == 64


def test_hash_email_is_keyed_so_it_is_not_a_bare_sha256():
    import hashlib

    assert hash_email("ann@example.com") != hashlib.sha256(b"ann@example.com").hexdigest()
    with override_settings(AUDIT_HASH_KEY="another-key"):
        other = hash_email("ann@example.com")
    assert other != hash_email("ann@example.com")


def test_changes_diff_lists_only_changed_fields_as_old_new_pairs():
    diff = changes_diff(
        {"name": "crm", "timeout": 10, "enabled": True},
        {"name": "crm", "timeout": 30, "enabled": True},
    )
    assert diff == {"timeout": [10, 30]}


def test_changes_diff_says_a_secret_changed_without_any_character_of_it():
    diff = changes_diff({"token": "pat-old-secret-1111"}, {"token": "pat-new-secret-2222"})
    assert diff == {"token": ["••••", SECRET_CHANGED]}
    assert "1111" not in str(diff)
    assert "2222" not in str(diff)


def test_changes_diff_masks_declared_secret_fields_whatever_their_name():
    diff = changes_diff(
        {"blob": "aaaa-very-private"}, {"blob": "bbbb-very-private"}, secret_fields=["blob"]
    )
    assert diff == {"blob": ["••••", SECRET_CHANGED]}


def test_changes_diff_hashes_personal_fields_consistently():
    diff = changes_diff(
        {"email": "ann@example.com", "phone": "+14155550100", "first_name": "Ann"},
        {"email": "bob@example.com", "phone": None, "first_name": "Bob"},
    )
    assert diff["email"][0].startswith("hash:")
    assert diff["email"][1].startswith("hash:")
    assert diff["phone"][1] is None
    text = str(diff)
    for value in ("ann@example.com", "bob@example.com", "4155550100", "Ann", "Bob"):
        assert value not in text
    again = changes_diff({"email": ""}, {"email": "ANN@example.com"})
    assert again["email"][1] == diff["email"][0]


def test_changes_diff_masks_secrets_nested_in_json_options():
    diff = changes_diff(
        {"options": {"headers": {"Authorization": "Bearer abc123456789"}}}, {"options": {}}
    )
    assert "abc123456789" not in str(diff)
    # the change itself is still recorded: the headers were removed
    assert "options" in diff
    assert "headers" in str(diff["options"][0])
    assert diff["options"][1] == {}


def test_config_names_stay_readable_for_the_auditor():
    diff = changes_diff(
        {"name": "Clay to HubSpot", "match_key": "email"},
        {"name": "Clay → HubSpot", "match_key": "domain"},
    )
    assert diff == {"name": ["Clay to HubSpot", "Clay → HubSpot"], "match_key": ["email", "domain"]}


@pytest.mark.django_db
def test_record_masks_secret_and_personal_keys_even_when_the_caller_forgot():
    event = audit_event_record(
        action="connection.changed",
        actor_label="system",
        changes={
            "client_secret": ["old-secret-value", "new-secret-value"],
            "email": [None, "ann@example.com"],
        },
        metadata={"api_key": "sk_test_abcdefghijkl", "note": "failed for ann@example.com"},
    )
    stored = AuditEvent.objects.get(pk=event.pk)
    text = str(stored.changes) + str(stored.metadata)
    for leaked in (
        "old-secret-value",
        "new-secret-value",
        "ann@example.com",
        "sk_test_abcdefghijkl",
    ):
        assert leaked not in text
    assert stored.changes["client_secret"] == ["••••", "••••"]
    assert stored.metadata["note"].startswith("failed for email:hash:")


@pytest.mark.django_db
def test_record_keeps_an_email_hash_given_in_metadata_as_it_is():
    event = audit_event_record(
        action="privacy.erasure", metadata={"email_hash": hash_email("ann@example.com")}
    )
    assert event.metadata["email_hash"] == hash_email("ann@example.com")


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("plain text", "plain text"),
        (-5, -5),
        (None, ""),
    ],
)
def test_csv_cells_that_a_spreadsheet_would_execute_are_defused(cell, expected):
    assert csv_safe_cell(cell) == expected
