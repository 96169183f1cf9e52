"""Portal snapshots: an incremental extract of the sandbox portal, its quality measured,
worst offenders listed and exported without personal data."""

from __future__ import annotations

import httpx
import pytest
from django.urls import reverse

from integrations import registry
from quality.models import PortalRecord
from quality.snapshots import portal_snapshot_take
from sandbox.hubspot import HubSpotSandbox
from tests.pipelines.factories import HubSpotConnectionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def portal(monkeypatch):
    sandbox = HubSpotSandbox()
    monkeypatch.setitem(registry.TRANSPORT_OVERRIDES, "hubspot", httpx.WSGITransport(app=sandbox))
    contacts = [
        {"email": f"p{i}@acme.com", "firstname": f"P{i}", "company": "Acme"} for i in range(6)
    ]
    contacts += [
        {"email": "p0@acme.com", "firstname": "Copy"},  # a duplicate, without a company
        {"firstname": "NoEmail"},  # no email, no company
    ]
    sandbox.seed_objects("contacts", contacts)
    sandbox.seed_objects(
        "companies",
        [
            {"domain": "acme.com", "name": "Acme"},
            {"domain": "www.acme.com", "name": "Acme 2"},
            {"name": "Nameless"},
        ],
    )
    return sandbox, HubSpotConnectionFactory(name="hubspot-main")


def test_first_snapshot_is_full_and_measures_the_portal(portal):
    sandbox, connection = portal
    snapshot = portal_snapshot_take(connection=connection, object_type="contacts")
    assert snapshot.error == ""
    assert snapshot.cursor_from is None
    assert (snapshot.fetched, snapshot.held, snapshot.hubspot_total, snapshot.complete) == (
        8,
        8,
        8,
        True,
    )
    measures = snapshot.measures
    assert measures["records"] == 8
    assert measures["completeness"]["email"] == 87.5
    assert measures["duplicate_groups"] == 1
    offenders = {o["issue"]: o["count"] for o in measures["offenders"]}
    assert offenders == {
        "contact without a company": 2,
        "contact without an email": 1,
        "contact sharing an email": 2,
    }


def test_the_next_snapshot_only_reads_what_changed(portal):
    sandbox, connection = portal
    first = portal_snapshot_take(connection=connection, object_type="contacts")
    sandbox.seed_objects("contacts", [{"email": "new@acme.com", "company": "Acme"}])
    second = portal_snapshot_take(connection=connection, object_type="contacts")
    assert second.cursor_from is not None
    assert second.cursor_from < first.cursor_to
    # The five-minute overlap re-reads the records modified just before; ids keep it exact.
    assert second.fetched <= 9
    assert second.held == 9
    searches = [body for method, path, *body in sandbox.request_log if path.endswith("/search")]
    assert searches  # the extract went through HubSpot's search endpoint


def test_companies_duplicate_by_normalized_domain(portal):
    _sandbox, connection = portal
    snapshot = portal_snapshot_take(connection=connection, object_type="companies")
    offenders = {o["issue"]: o["count"] for o in snapshot.measures["offenders"]}
    assert offenders == {"company without a domain": 1, "company sharing a domain": 2}
    assert set(
        PortalRecord.objects.filter(object_type="companies").values_list("domain", flat=True)
    ) == {
        "acme.com",
        "",
    }


def test_a_refused_extract_is_recorded_and_moves_no_cursor(portal, monkeypatch):
    sandbox, connection = portal
    sandbox.config.update({"tokens": ["another-token"]})
    snapshot = portal_snapshot_take(connection=connection, object_type="contacts")
    assert snapshot.error.startswith("AuthFailed")
    assert snapshot.cursor_to is None
    assert not PortalRecord.objects.exists()


def test_offenders_csv_has_ids_and_issues_only(client, admin_user, portal):
    _sandbox, connection = portal
    portal_snapshot_take(connection=connection, object_type="contacts")
    client.force_login(admin_user)
    page = client.get(reverse("ops:snapshots")).content.decode()
    assert "contact without a company" in page
    response = client.get(reverse("ops:snapshot-offenders", args=[connection.pk, "contacts"]))
    text = b"".join(response.streaming_content).decode()
    lines = text.strip().splitlines()
    assert lines[0] == "object_type,hubspot_id,issue"
    assert len(lines) == 1 + 5
    assert "@" not in text
    assert "NoEmail" not in text


def test_erasure_removes_a_person_from_the_snapshot(portal):
    from audit import privacy

    _sandbox, connection = portal
    portal_snapshot_take(connection=connection, object_type="contacts")
    store = next(s for s in privacy.registered_stores() if s.name == "quality.portal_records")
    assert len(store.find("P0@acme.com")) == 2
    assert store.erase("p0@acme.com") == 2
    assert not PortalRecord.objects.filter(email="p0@acme.com").exists()
