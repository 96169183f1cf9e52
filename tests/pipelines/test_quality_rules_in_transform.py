"""Quality rules in a contact import: an error rule dead-letters the record with its reason
and nothing of it reaches HubSpot; a warning rule lets it sync and is counted in the run's
quality."""

from __future__ import annotations

import pytest

from pipelines.models import RecordState
from quality.models import QualityRule
from quality.services import run_quality_measure
from tests.pipelines.conftest import contact_rows, import_rows, sandbox_emails


@pytest.mark.django_db
def test_error_rules_dead_letter_and_warning_rules_sync_and_are_counted(workflow, sandbox):
    QualityRule.objects.create(
        workflow=workflow, field="phone", kind="format", format="phone_e164", severity="warning"
    )
    QualityRule.objects.create(
        workflow=workflow, field="jobtitle", kind="allowed", allowed_values="VP Marketing\nCEO"
    )
    rows = contact_rows(3)
    rows[1]["Job Title"] = "Intern"  # error: not allowed → dead letter
    run = import_rows(workflow, rows)
    assert (run.succeeded, run.dead_lettered) == (2, 1)
    intern = run.records.get(match_key="person1@acme-analytics.com")
    assert intern.state == RecordState.DEAD_LETTERED
    assert "jobtitle" in " ".join(run.dead_letters.get(record=intern).errors)
    assert "person1@acme-analytics.com" not in sandbox_emails(sandbox)
    assert "person0@acme-analytics.com" in sandbox_emails(sandbox)


@pytest.mark.django_db
def test_a_warning_rule_lets_the_record_through_and_the_run_counts_it(workflow, sandbox):
    QualityRule.objects.create(
        workflow=workflow, field="hs_linkedin_url", kind="required", severity="warning"
    )
    run = import_rows(workflow, contact_rows(4))
    assert (run.succeeded, run.dead_lettered) == (4, 0)
    assert len(sandbox_emails(sandbox)) == 4
    quality = run_quality_measure(run_id=run.pk)
    assert quality.rule_warnings == 4
    # email (mapping) and hs_linkedin_url (rule) are required; LinkedIn is empty everywhere
    assert quality.completeness == 50.0
    assert quality.consistency == 100.0
