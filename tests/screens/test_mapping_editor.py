"""The field-mapping editor: properties from the portal, checks at save time, a preview that
writes nothing, and a new audited version on save."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from django.urls import reverse

from audit.models import AuditEvent
from integrations import registry
from pipelines.models import FieldMappingVersion, Run, RunRecord
from tests.pipelines.factories import CLAY_RULES

pytestmark = pytest.mark.django_db


def rules_post(rules: list[dict[str, Any]], *, note: str = "") -> dict[str, Any]:
    """The editor's formset as the browser posts it."""
    data: dict[str, Any] = {
        "rules-TOTAL_FORMS": str(len(rules)),
        "rules-INITIAL_FORMS": str(len(rules)),
        "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": "1000",
        "note": note,
    }
    for n, rule in enumerate(rules):
        data[f"rules-{n}-source"] = rule["from"]
        data[f"rules-{n}-target"] = rule["to"]
        data[f"rules-{n}-transforms"] = json.dumps(rule.get("transforms") or [])
        if rule.get("required"):
            data[f"rules-{n}-required"] = "on"
    return data


def _save(client, workflow, rules, **kwargs):
    return client.post(
        reverse("switchyard:mapping", args=[workflow.pk]), rules_post(rules, **kwargs)
    )


def test_editor_offers_the_portals_real_properties(client, admin_user, workflow):
    client.force_login(admin_user)

    page = client.get(reverse("switchyard:mapping", args=[workflow.pk])).content.decode()

    assert '<option value="jobtitle">' in page
    assert '<option value="hs_lead_status">' in page
    assert "map_values" in page
    assert "Replace values using a table" in page
    assert 'id="hubspot-unreachable"' not in page


def test_saving_creates_a_new_audited_version(client, admin_user, workflow):
    client.force_login(admin_user)
    rules = [
        *CLAY_RULES,
        {
            "from": "Seniority",
            "to": "hs_lead_status",
            "required": False,
            "transforms": [{"name": "map_values", "params": {"mapping": {"Hot": "OPEN"}}}],
        },
    ]

    response = _save(client, workflow, rules, note="lead status from Clay")

    assert response.status_code == 302
    version = FieldMappingVersion.objects.get(workflow=workflow, version=2)
    assert version.rules[-1]["to"] == "hs_lead_status"
    assert version.note == "lead status from Clay"
    assert version.created_by == admin_user
    assert AuditEvent.objects.filter(
        action="field_mapping.version_created", actor_id=admin_user.pk
    ).exists()


def test_save_rejects_a_property_hubspot_does_not_have(client, admin_user, workflow):
    client.force_login(admin_user)

    response = _save(
        client, workflow, [*CLAY_RULES, {"from": "Favourite Colour", "to": "favourite_colour"}]
    )

    assert response.status_code == 400
    assert (
        "HubSpot has no contacts property named &#x27;favourite_colour&#x27;"
        in response.content.decode()
    )
    assert FieldMappingVersion.objects.filter(workflow=workflow).count() == 1


def test_save_rejects_a_map_values_output_that_is_not_an_enumeration_option(
    client, admin_user, workflow
):
    client.force_login(admin_user)
    rule = {
        "from": "Status",
        "to": "hs_lead_status",
        "transforms": [{"name": "map_values", "params": {"mapping": {"Hot": "Hot lead"}}}],
    }

    response = _save(client, workflow, [*CLAY_RULES, rule])

    assert response.status_code == 400
    assert (
        "Hot lead not among the option values of &#x27;hs_lead_status&#x27;"
        in response.content.decode()
    )
    assert FieldMappingVersion.objects.filter(workflow=workflow).count() == 1


def test_save_rejects_a_default_that_is_not_an_enumeration_option(client, admin_user, workflow):
    client.force_login(admin_user)
    rule = {
        "from": "Status",
        "to": "hs_lead_status",
        "transforms": [{"name": "default", "params": {"value": "Warm"}}],
    }

    response = _save(client, workflow, [*CLAY_RULES, rule])

    assert response.status_code == 400
    assert "default &#x27;Warm&#x27; is not among the option values" in response.content.decode()


def test_save_rejects_an_unknown_transform_by_name(client, admin_user, workflow):
    client.force_login(admin_user)

    response = _save(
        client, workflow, [{**CLAY_RULES[0], "transforms": ["strip", "shout"]}, *CLAY_RULES[1:]]
    )

    assert response.status_code == 400
    assert "shout" in response.content.decode()
    assert FieldMappingVersion.objects.filter(workflow=workflow).count() == 1


def test_unreachable_hubspot_allows_free_text_and_still_checks_the_rules(
    client, admin_user, workflow, monkeypatch
):
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    monkeypatch.setattr(registry, "TRANSPORT_OVERRIDE", httpx.MockTransport(down))
    client.force_login(admin_user)

    page = client.get(reverse("switchyard:mapping", args=[workflow.pk])).content.decode()
    bad = _save(client, workflow, [{**CLAY_RULES[0], "transforms": ["shout"]}])
    good = _save(client, workflow, [*CLAY_RULES, {"from": "Seniority", "to": "seniority_custom"}])

    assert 'id="hubspot-unreachable"' in page
    assert bad.status_code == 400
    assert good.status_code == 302
    assert (
        FieldMappingVersion.objects.get(workflow=workflow, version=2).rules[-1]["to"]
        == "seniority_custom"
    )


def test_preview_applies_unsaved_rules_to_the_last_import_and_writes_nothing(
    client, admin_user, finished_run
):
    workflow = finished_run.workflow
    client.force_login(admin_user)
    rules = [
        {**r, "transforms": ["strip", "upper"]} if r["to"] == "lastname" else r for r in CLAY_RULES
    ]
    counts = (
        Run.objects.count(),
        RunRecord.objects.count(),
        FieldMappingVersion.objects.count(),
        AuditEvent.objects.count(),
    )

    response = client.post(
        reverse("switchyard:mapping-preview", args=[workflow.pk]), rules_post(rules)
    )

    body = response.json()
    assert body["ok"]
    assert body["run"] == finished_run.pk
    assert [row["values"]["lastname"] for row in body["rows"]] == ["LOVELACE", "HOPPER", "TURING"]
    assert body["rows"][2]["errors"]  # the invalid email shows as an error, not a crash
    assert counts == (
        Run.objects.count(),
        RunRecord.objects.count(),
        FieldMappingVersion.objects.count(),
        AuditEvent.objects.count(),
    )


def test_preview_without_any_import_says_so(client, admin_user, workflow):
    client.force_login(admin_user)

    body = client.post(
        reverse("switchyard:mapping-preview", args=[workflow.pk]), rules_post(CLAY_RULES)
    ).json()

    assert not body["ok"]
    assert "No import yet" in body["problems"][0]
