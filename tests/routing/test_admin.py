"""The admin: rule and owner validation at save, the simulator (writes nothing), the
decision's "why", Route now."""

from __future__ import annotations

import pytest
from django.urls import reverse

from pipelines.models import OwnerDailyCount, RoutingDecision, StrategyState
from pipelines.routing.admin import TerritoryOwnerForm, TerritoryRuleForm
from tests.routing.conftest import contact_seed

pytestmark = pytest.mark.django_db


def test_a_rule_naming_an_unknown_property_is_rejected_with_its_name(sandbox, routing):
    form = TerritoryRuleForm(
        data={
            "position": 4,
            "territory": routing.rules.first().territory_id,
            "conditions": '{"company.favourite_colour": "blue"}',
            "enabled": "on",
        },
        config=routing,
    )
    assert not form.is_valid()
    assert form.errors["conditions"] == [
        "unknown company property 'favourite_colour': HubSpot's companies have no property of that name"
    ]


def test_a_rule_with_a_bad_test_is_rejected(routing):
    form = TerritoryRuleForm(
        data={
            "position": 4,
            "territory": routing.rules.first().territory_id,
            "conditions": '{"country": {"near": "GB"}}',
        },
        config=routing,
    )
    assert not form.is_valid()
    assert "unknown test 'near'" in form.errors["conditions"][0]


def test_an_owner_that_no_longer_exists_cannot_join_a_territory(owners):
    owners["22222"].archived = True
    owners["22222"].save()
    form = TerritoryOwnerForm(data={"position": 1, "owner": owners["22222"].pk, "weight": 1})
    assert not form.is_valid()
    assert "no longer exists in HubSpot" in form.errors["owner"][0]


def test_the_simulator_shows_the_owner_and_writes_nothing(client, admin_user, routing):
    client.force_login(admin_user)
    url = reverse("admin:pipelines_routingconfig_simulate", args=[routing.pk])
    for _ in range(2):
        response = client.post(
            url, {"contact": "country = United States\nstate = NY", "company": ""}
        )
        assert response.status_code == 200
        assert b"Alice East (12345)" in response.content  # both times: no turn was used up
    assert not RoutingDecision.objects.exists()
    assert not StrategyState.objects.filter(counter__gt=0).exists()
    assert not OwnerDailyCount.objects.exists()


def test_the_simulator_reads_a_hubspot_contact(client, admin_user, sandbox, routing):
    client.force_login(admin_user)
    contact = contact_seed(sandbox, country="DE")
    response = client.post(
        reverse("admin:pipelines_routingconfig_simulate", args=[routing.pk]),
        {"contact_id": contact},
    )
    assert b"Emma Emea (11111)" in response.content
    assert not RoutingDecision.objects.exists()


def test_route_now_then_why(client, admin_user, sandbox, routing):
    client.force_login(admin_user)
    contact = contact_seed(sandbox, country="US", state="NY")
    response = client.post(
        reverse("admin:pipelines_routingconfig_route", args=[routing.pk]), {"contact_id": contact}
    )
    assert response.status_code == 200
    decision = RoutingDecision.objects.get()
    assert (decision.trigger, decision.triggered_by, decision.owner.hubspot_id) == (
        "admin",
        admin_user,
        "12345",
    )
    why = client.get(reverse("admin:pipelines_routingdecision_change", args=[decision.pk]))
    assert b"Why did this lead go to Alice East?" in why.content
    assert b"Rule 3 sent it to East" in why.content


def test_a_viewer_may_simulate_but_not_route(client, viewer, routing):
    client.force_login(viewer)
    assert (
        client.get(reverse("admin:pipelines_routingconfig_simulate", args=[routing.pk])).status_code
        == 200
    )
    assert (
        client.post(
            reverse("admin:pipelines_routingconfig_route", args=[routing.pk]), {"contact_id": "1"}
        ).status_code
        == 403
    )
