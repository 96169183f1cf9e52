"""The dry-run preview predicts the run: for the same messy file and the same state, every
count the preview shows equals the run's outcome, and merged duplicates are named by row."""

from __future__ import annotations

import io

import pytest

from pipelines.models import SkipReason
from pipelines.services.preview import run_preview_csv
from tests.pipelines.conftest import assert_invariant, import_rows

pytestmark = pytest.mark.django_db

HEADER = "Work Email;First Name;Company;Title;Phone Number;Country\n"


def _line(email: str, first: str = "Ada", title: str = "VP Marketing", phone: str = "") -> str:
    return f"{email};{first};Acme;{title};{phone};United Kingdom\n"


def messy_file() -> bytes:
    """Semicolons, cp1252, alias headers, and every outcome at least once."""
    rows = [
        _line("new1@acme-analytics.com", "Zoë"),  # 2 create
        _line("kept@acme-analytics.com"),  # 3 unchanged since the earlier import
        _line("changed@acme-analytics.com", title="CRO"),  # 4 update: title changed
        _line("elsewhere@acme-analytics.com"),  # 5 update: made in HubSpot by another tool
        _line("Dup@Acme-Analytics.com ", "Dup"),  # 6 merged into row 8
        _line("not-an-email"),  # 7 invalid
        _line("dup@acme-analytics.com", "", phone="+44 20 7946 0958"),  # 8 survivor
        _line("badphone@acme-analytics.com", phone="12"),  # 9 invalid phone
        _line(""),  # 10 no email
        _line("new2@acme-analytics.com", "René"),  # 11 create
        _line("new2@acme-analytics.com", "René"),  # 12 merged into row 11's twin
    ]
    return (HEADER + "".join(rows)).encode("cp1252")


@pytest.fixture
def earlier_state(workflow, sandbox):
    earlier = (
        HEADER
        + _line("kept@acme-analytics.com")
        + _line("changed@acme-analytics.com", title="VP Sales")
    ).encode()
    import_rows(workflow, data=earlier)
    sandbox.seed_objects("contacts", [{"email": "elsewhere@acme-analytics.com"}])


def test_every_preview_count_equals_the_runs_outcome(workflow, sandbox, earlier_state):
    data = messy_file()

    preview = run_preview_csv(workflow=workflow, file=io.BytesIO(data), check_destination=True)
    run = import_rows(workflow, data=data)

    assert_invariant(run)
    skipped = dict.fromkeys(SkipReason.values, 0)
    for reason in run.records.exclude(skip_reason="").values_list("skip_reason", flat=True):
        skipped[reason] += 1
    predicted = {
        "rows": preview.records_in,
        "create": preview.would_create,
        "update": preview.would_update,
        "unchanged": preview.unchanged,
        "invalid": preview.invalid,
        "duplicate": preview.duplicate_in_file,
    }
    outcome = {
        "rows": run.records_in,
        "create": run.created,
        "update": run.succeeded - run.created,
        "unchanged": skipped[SkipReason.UNCHANGED],
        "invalid": run.dead_lettered,
        "duplicate": skipped[SkipReason.DUPLICATE],
    }
    assert predicted == outcome
    assert predicted == {
        "rows": 11,
        "create": 3,
        "update": 2,
        "unchanged": 1,
        "invalid": 3,
        "duplicate": 2,
    }


def test_the_preview_names_the_rows_it_merges(workflow, sandbox):
    preview = run_preview_csv(workflow=workflow, file=io.BytesIO(messy_file()))

    assert preview.duplicates == [
        {"match_key": "dup@acme-analytics.com", "rows": [6, 8], "survivor": 8},
        {"match_key": "new2@acme-analytics.com", "rows": [11, 12], "survivor": 12},
    ]


def test_a_contact_deleted_in_hubspot_since_its_sync_is_predicted_as_a_create(
    workflow, sandbox, earlier_state
):
    sandbox.reset()  # HubSpot lost every contact (the synced ones and "elsewhere")
    data = messy_file()

    preview = run_preview_csv(workflow=workflow, file=io.BytesIO(data), check_destination=True)
    run = import_rows(workflow, data=data)

    assert (preview.would_create, preview.would_update) == (5, 0)
    assert (run.created, run.succeeded - run.created) == (5, 0)
