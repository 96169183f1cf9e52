"""What happens to a contact HubSpot already assigns: the configuration decides."""

from __future__ import annotations

import pytest

from pipelines.models import DecisionTrigger, WhenOwned
from pipelines.routing.services import contact_route
from tests.routing.conftest import contact_seed

pytestmark = pytest.mark.django_db


def _route(routing, contact):
    return contact_route(config=routing, contact_id=contact, trigger=DecisionTrigger.WEBHOOK)


def _owner_in_hubspot(sandbox, contact):
    return next(c for c in sandbox.objects("contacts") if c["id"] == contact)["properties"].get(
        "hubspot_owner_id"
    )


def test_by_default_an_owned_contact_keeps_its_owner(sandbox, routing):
    contact = contact_seed(sandbox, country="US", state="NY", hubspot_owner_id="67890")

    outcome = _route(routing, contact)

    assert outcome.decision.owner.hubspot_id == "67890"
    assert _owner_in_hubspot(sandbox, contact) == "67890"
    assert "re-route was not chosen" in outcome.decision.strategy_state["reason"]


def test_configured_to_reroute_it_goes_to_the_rules_owner(sandbox, routing):
    routing.when_owned = WhenOwned.REROUTE
    routing.save()
    contact = contact_seed(sandbox, country="US", state="NY", hubspot_owner_id="67890")

    outcome = _route(routing, contact)

    assert outcome.decision.owner.hubspot_id == "12345"
    assert _owner_in_hubspot(sandbox, contact) == "12345"


def test_an_owner_switchyard_does_not_know_is_kept_too(sandbox, routing):
    from pipelines.models import Owner

    Owner.objects.filter(hubspot_id="22222").update(hubspot_id="22222-old")  # not synced here
    contact = contact_seed(sandbox, country="US", state="NY", hubspot_owner_id="22222")

    outcome = _route(routing, contact)

    assert outcome.decision.status == "skipped"
    assert outcome.decision.owner is None
    assert "HubSpot owner 22222" in outcome.decision.territory_reason
    assert _owner_in_hubspot(sandbox, contact) == "22222"
