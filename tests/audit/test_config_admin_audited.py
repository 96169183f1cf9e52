"""Every configuration change made in the admin is an audit event with its diff, inline rows
included (SOC 2 CC8.1, docs/security.md). Driven through the admin as Erin, the integration engineer."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from audit.admin_mixins import AuditedModelAdmin
from audit.models import AuditEvent
from pipelines.models import (
    FieldMappingVersion,
    Owner,
    RoutingConfig,
    Territory,
    TerritoryOwner,
    TerritoryRule,
    Workflow,
)
from tests.pipelines.factories import ClayConnectionFactory, HubSpotConnectionFactory
from tests.routing.factories import owners_example, routing_example

pytestmark = pytest.mark.django_db


def form_data(response) -> dict:
    """The POST a browser would send back unchanged: the main form and every inline formset's
    existing rows (no extra blank rows: a test adds the rows it wants)."""
    forms = [response.context["adminform"].form]
    data: dict = {}
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        forms += [formset.management_form, *formset.initial_forms]
        data[f"{formset.prefix}-TOTAL_FORMS"] = formset.initial_form_count()
    for form in forms:
        for bound in form:
            value = bound.value()
            if value is None or value is False:
                continue
            if value is True:
                value = "on"
            if bound.html_name.endswith("-TOTAL_FORMS"):
                continue
            data[bound.html_name] = (
                [str(v) for v in value] if isinstance(value, list | tuple) else value
            )
            if (
                bound.field.show_hidden_initial
            ):  # fields with a callable default, as the browser sends them
                data[bound.html_initial_name] = value
    return data


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


@pytest.fixture
def erin(client, engineer):
    client.force_login(engineer)
    return client


@pytest.mark.parametrize("model", [Workflow, FieldMappingVersion, Territory, Owner, RoutingConfig])
def test_configuration_admins_are_audited(model):
    assert isinstance(admin.site._registry[model], AuditedModelAdmin)


def test_a_workflow_created_changed_and_deleted_in_the_admin_is_audited(erin, engineer):
    clay, hubspot = ClayConnectionFactory(), HubSpotConnectionFactory()
    add = erin.get(reverse("admin:pipelines_workflow_add"))
    data = {
        **form_data(add),
        "slug": "clay-contacts",
        "name": "Clay contacts",
        "type": "clay_hubspot_contacts",
        "source_connection": clay.pk,
        "destination_connection": hubspot.pk,
        "destination_object": "contacts",
        "match_on": "email",
        "enabled": "on",
    }
    response = erin.post(reverse("admin:pipelines_workflow_add"), data)
    assert response.status_code == 302, (
        response.context["adminform"].form.errors if response.context else response
    )
    workflow = Workflow.objects.get(slug="clay-contacts")
    (created,) = events("workflow.created")
    assert (created.actor_id, created.object_id, created.metadata["source"]) == (
        engineer.pk,
        str(workflow.pk),
        "admin",
    )
    assert created.changes["slug"] == [None, "clay-contacts"]
    assert created.changes["destination_connection"] == [None, hubspot.pk]

    url = reverse("admin:pipelines_workflow_change", args=[workflow.pk])
    data = {**form_data(erin.get(url)), "match_on": "hs_object_id", "slack_channel": "#revops"}
    data.pop("enabled")  # untick
    assert erin.post(url, data).status_code == 302
    (changed,) = events("workflow.changed")
    assert changed.changes == {
        "enabled": [True, False],
        "match_on": ["email", "hs_object_id"],
        "slack_channel": ["", "#revops"],
        "updated_at": changed.changes["updated_at"],
    }

    delete = reverse("admin:pipelines_workflow_delete", args=[workflow.pk])
    assert erin.post(delete, {"post": "yes"}).status_code == 302
    (deleted,) = events("workflow.deleted")
    assert deleted.object_id == str(workflow.pk)
    assert deleted.changes["slug"] == ["clay-contacts", None]
    assert not Workflow.objects.filter(pk=workflow.pk).exists()


def test_a_territorys_inline_owners_are_audited_row_by_row(erin):
    owners = owners_example()
    territory = Territory.objects.create(name="EMEA", strategy="round_robin")
    seat = TerritoryOwner.objects.create(territory=territory, owner=owners["11111"], position=1)
    gone = TerritoryOwner.objects.create(territory=territory, owner=owners["22222"], position=2)
    url = reverse("admin:pipelines_territory_change", args=[territory.pk])
    data = form_data(erin.get(url))
    prefix = "memberships"
    rows = {data[f"{prefix}-{i}-id"]: i for i in range(int(data[f"{prefix}-INITIAL_FORMS"]))}
    data[f"{prefix}-{rows[seat.pk]}-weight"] = "3"
    data[f"{prefix}-{rows[gone.pk]}-DELETE"] = "on"
    new = int(data[f"{prefix}-INITIAL_FORMS"])
    data[f"{prefix}-TOTAL_FORMS"] = new + 1
    data.update(
        {
            f"{prefix}-{new}-owner": owners["67890"].pk,
            f"{prefix}-{new}-position": "3",
            f"{prefix}-{new}-weight": "1",
            f"{prefix}-{new}-territory": territory.pk,
        }
    )
    data["description"] = "Europe"

    response = erin.post(url, data)

    assert response.status_code == 302, response.context and [
        f.errors for f in response.context["inline_admin_formsets"][0].formset.forms
    ]
    assert events("territory.changed")[0].changes["description"] == ["", "Europe"]
    (changed,) = events("territoryowner.changed")
    assert (changed.object_id, changed.changes["weight"]) == (str(seat.pk), [1, 3])
    assert changed.metadata["parent_type"] == "pipelines.territory"
    assert changed.metadata["parent_id"] == str(territory.pk)
    (deleted,) = events("territoryowner.deleted")
    assert (deleted.object_id, deleted.changes["owner"]) == (
        str(gone.pk),
        [owners["22222"].pk, None],
    )
    (created,) = events("territoryowner.created")
    assert created.changes["owner"] == [None, owners["67890"].pk]


def test_a_routing_rule_changed_inline_is_audited_with_its_diff(erin):
    config = routing_example(owners_example())
    rule = config.rules.get(position=3)
    url = reverse("admin:pipelines_routingconfig_change", args=[config.pk])
    data = form_data(erin.get(url))
    index = next(
        i for i in range(int(data["rules-INITIAL_FORMS"])) if data[f"rules-{i}-id"] == rule.pk
    )
    data[f"rules-{index}-conditions"] = '{"country": {"in": ["US"]}}'

    response = erin.post(url, data)

    assert response.status_code == 302
    (event,) = events("territoryrule.changed")
    assert event.object_id == str(rule.pk)
    assert event.changes == {
        "conditions": [{"country": {"in": ["US", "CA"]}}, {"country": {"in": ["US"]}}]
    }
    assert event.metadata["parent_type"] == "pipelines.routingconfig"
    assert TerritoryRule.objects.get(pk=rule.pk).conditions == {"country": {"in": ["US"]}}
    # Nothing else changed, so nothing else is recorded.
    assert not events("routingconfig.changed")
    assert not events("scoringrule.changed")
    assert RoutingConfig.objects.count() == 1
