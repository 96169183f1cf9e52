"""`manage.py route`, config as code (the YAML of docs/routing.md, as written), and the owner sync."""

from __future__ import annotations

import json
from io import StringIO

import httpx
import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from integrations.config_sections import ConfigError
from pipelines.configuration import config_apply, config_export
from pipelines.models import (
    Owner,
    RoutingConfig,
    RoutingDecision,
    StrategyState,
    Territory,
    TerritoryRule,
)
from pipelines.routing.owners import owners_sync
from tests.routing.conftest import contact_seed
from tests.routing.factories import HubSpotConnectionFactory, OwnerFactory

pytestmark = pytest.mark.django_db

ISSUE_YAML = """
territories:
  - name: East
    strategy: round_robin
    owners: ["12345", "23456"]
  - name: West
    strategy: fixed
    owners: ["67890"]
  - name: EMEA
    strategy: weighted_round_robin
    owners: [{id: "11111", weight: 2, daily_cap: 40}, {id: "22222", weight: 1}]
routing:
  workflow: mql-routing
  hubspot: hubspot-main
  lifecycle_stage: marketingqualifiedlead
  deal_threshold: 75
  fallback_territory: East
  rules:
    - {territory: EMEA, when: {country: {in: [GB, DE, FR, NL, ES, IT, IE, SE]}}}
    - {territory: West, when: {state: {in: [CA, WA, OR, NV, AZ, CO, UT]}}}
    - {territory: East, when: {country: {in: [US, CA]}}}
"""


def run_route(*args) -> str:
    out = StringIO()
    call_command("route", *args, stdout=out)
    return out.getvalue()


class TestRouteCommand:
    def test_json_has_the_contract_keys(self, sandbox, routing):
        contact = contact_seed(sandbox, country="US", state="WA")
        result = json.loads(run_route(contact, "--json"))
        assert set(result) == {
            "contact_id",
            "score",
            "territory",
            "owner_id",
            "rule",
            "deal_id",
            "notified",
            "explanation",
        }
        assert (result["contact_id"], result["territory"], result["owner_id"], result["rule"]) == (
            contact,
            "West",
            "67890",
            2,
        )
        assert "Rule 2 sent it to West" in result["explanation"]
        assert RoutingDecision.objects.get().trigger == "command"

    def test_dry_run_writes_nothing_anywhere(self, sandbox, routing):
        contact = contact_seed(sandbox, country="US", state="NY")
        first = json.loads(run_route(contact, "--dry-run", "--json"))
        second = json.loads(run_route(contact, "--dry-run", "--json"))
        assert first["owner_id"] == second["owner_id"] == "12345"  # the turn was not used up
        assert not RoutingDecision.objects.exists()
        assert not StrategyState.objects.filter(counter__gt=0).exists()
        assert not next(c for c in sandbox.objects("contacts") if c["id"] == contact)[
            "properties"
        ].get("hubspot_owner_id")

    def test_an_unknown_contact_is_a_clear_error(self, sandbox, routing):
        with pytest.raises(CommandError, match="HubSpot has no contact 999999"):
            run_route("999999")


class TestConfigAsCode:
    def test_the_issue_yaml_applies_as_written_and_again_changes_nothing(self):
        HubSpotConnectionFactory()
        changes = config_apply(text=ISSUE_YAML)
        assert "routing mql-routing: created" in changes
        assert {t.name: t.strategy for t in Territory.objects.all()} == {
            "East": "round_robin",
            "West": "fixed",
            "EMEA": "weighted_round_robin",
        }
        emea = Territory.objects.get(name="EMEA").memberships.order_by("position")
        assert [(m.owner.hubspot_id, m.weight, m.daily_cap) for m in emea] == [
            ("11111", 2, 40),
            ("22222", 1, None),
        ]
        assert (
            Owner.objects.filter(synced_at__isnull=True).count() == 5
        )  # placeholders until the owner sync
        config = RoutingConfig.objects.get()
        assert (config.deal_threshold, config.fallback_territory.name, config.workflow.type) == (
            75,
            "East",
            "mql_routing",
        )
        assert list(TerritoryRule.objects.values_list("position", "territory__name")) == [
            (1, "EMEA"),
            (2, "West"),
            (3, "East"),
        ]
        assert config_apply(text=ISSUE_YAML) == []

    def test_export_round_trips(self):
        HubSpotConnectionFactory()
        config_apply(text=ISSUE_YAML)
        text = config_export()
        exported = yaml.safe_load(text)
        assert exported["routing"]["rules"][0] == {
            "territory": "EMEA",
            "when": {"country": {"in": ["GB", "DE", "FR", "NL", "ES", "IT", "IE", "SE"]}},
        }
        # The routing workflow travels in the routing section, not as a mapping-less workflow.
        assert [w["slug"] for w in exported["workflows"]] == []
        assert config_apply(text=text) == []

    def test_an_owner_archived_in_hubspot_is_refused(self):
        HubSpotConnectionFactory()
        OwnerFactory(hubspot_id="67890", archived=True, first_name="Wendy")
        with pytest.raises(
            ConfigError, match="owner 67890 .* no longer exists in HubSpot"
        ) as caught:
            config_apply(text=ISSUE_YAML)
        assert caught.value.line == 8  # the West territory's owners
        assert not Territory.objects.exists()

    def test_a_rule_on_an_unknown_property_is_refused(self, sandbox):
        HubSpotConnectionFactory()
        text = ISSUE_YAML + "    - {territory: East, when: {contact.favourite_colour: blue}}\n"
        with pytest.raises(ConfigError, match="unknown contact property 'favourite_colour'"):
            config_apply(text=text)

    def test_an_unknown_territory_names_its_line(self):
        HubSpotConnectionFactory()
        with pytest.raises(ConfigError, match="no territory named 'APAC'") as caught:
            config_apply(text=ISSUE_YAML.replace("- {territory: West", "- {territory: APAC"))
        assert caught.value.line == 20  # the second rule


def test_the_owner_sync_fills_placeholders_and_archives_the_missing(sandbox):
    connection = HubSpotConnectionFactory()
    Owner.objects.create(hubspot_id="12345")  # placeholder from config
    Owner.objects.create(  # synced from this portal before, gone from HubSpot since
        hubspot_id="99999", hubspot_connection=connection, synced_at="2020-01-01T00:00:00Z"
    )
    counts = owners_sync(connection=connection)
    alice = Owner.objects.get(hubspot_id="12345")
    assert (alice.name, alice.email, alice.synced_at is not None) == (
        "Alice East",
        "alice@example.com",
        True,
    )
    assert Owner.objects.get(hubspot_id="99999").archived
    assert counts == {"created": 4, "updated": 1, "archived": 1}


def test_the_hourly_schedule_syncs_owners_of_every_connection_routing_uses(sandbox):
    from django_celery_beat.models import PeriodicTask

    from pipelines.routing.owners import owners_sync_for_routing

    HubSpotConnectionFactory()
    config_apply(text=ISSUE_YAML)
    assert Owner.objects.filter(synced_at__isnull=True).count() == 5
    results = owners_sync_for_routing()
    assert list(results) == ["hubspot-main"]
    assert not Owner.objects.filter(hubspot_id="12345", synced_at__isnull=True).exists()
    schedule = PeriodicTask.objects.get(name="Sync HubSpot owners")
    assert (schedule.task, schedule.crontab.minute, schedule.enabled) == (
        "pipelines.routing.owners_sync",
        "7",
        True,
    )


def test_two_portals_keep_their_own_owners(monkeypatch):
    """Each portal's sync archives only its own missing owners, and routing through one
    portal never picks an owner synced from the other."""
    from integrations import registry
    from pipelines.routing.strategies import territory_owner_pick
    from sandbox.hubspot import HubSpotSandbox
    from tests.routing.factories import territory_with_owners

    def portal_with(owners: dict[str, str]) -> HubSpotSandbox:
        return HubSpotSandbox(
            owners=[{"id": i, "firstName": n, "email": f"{n.lower()}@example.com"}
                    for i, n in owners.items()]
        )  # fmt: skip

    emea, americas = portal_with({"500": "Emma", "501": "Erik"}), portal_with({"700": "Ada"})

    class ByHost(httpx.BaseTransport):
        def handle_request(self, request):
            app = emea if request.url.host == "emea.test" else americas
            return httpx.WSGITransport(app=app).handle_request(request)

    monkeypatch.setitem(registry.TRANSPORT_OVERRIDES, "hubspot", ByHost())
    eu = HubSpotConnectionFactory(name="hubspot-emea", base_url="http://emea.test")
    us = HubSpotConnectionFactory(name="hubspot-americas", base_url="http://americas.test")

    assert owners_sync(connection=eu)["created"] == 2
    assert owners_sync(connection=us) == {"created": 1, "updated": 0, "archived": 0}
    assert owners_sync(connection=eu)["archived"] == 0  # Ada is not EMEA's to archive
    assert not Owner.objects.filter(archived=True).exists()
    assert set(
        Owner.objects.filter(hubspot_connection=eu).values_list("hubspot_id", flat=True)
    ) == {
        "500",
        "501",
    }

    ada = Owner.objects.get(hubspot_id="700")
    emma = Owner.objects.get(hubspot_id="500")
    mixed = territory_with_owners("Mixed", "round_robin", [ada, emma])
    picks = {territory_owner_pick(territory=mixed, connection_id=eu.pk).owner_pk for _ in range(4)}
    assert picks == {emma.pk}  # Ada belongs to the other portal
