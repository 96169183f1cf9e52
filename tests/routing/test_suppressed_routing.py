"""A contact whose email was erased (suppressed) is not routed: no owner, no deal, no message,
and the decision records the skip without the contact's properties."""

from __future__ import annotations

import pytest

from audit.privacy import suppression_add
from pipelines.models import DeadLetter, DecisionStatus, OwnerDailyCount, RoutingDecision
from pipelines.routing.services import contact_route
from tests.routing.conftest import contact_seed

pytestmark = pytest.mark.django_db


def test_a_suppressed_contact_is_skipped_not_routed(sandbox, routing):
    contact = contact_seed(sandbox, country="GB", email="Erased.Person@Example.com")
    suppression_add(email="erased.person@example.com")

    outcome = contact_route(config=routing, contact_id=contact, trigger="admin")

    decision = RoutingDecision.objects.get()
    assert outcome.decision == decision
    assert (decision.status, decision.owner, decision.territory) == (
        DecisionStatus.SKIPPED,
        None,
        None,
    )
    assert decision.inputs == {}
    assert "suppressed" in decision.territory_reason
    sandbox_contact = next(c for c in sandbox.objects("contacts") if c["id"] == contact)
    assert not sandbox_contact["properties"].get("hubspot_owner_id")
    assert not sandbox.objects("deals")
    assert not OwnerDailyCount.objects.exists()  # no turn of any round used up
    assert not DeadLetter.objects.exists()  # skipped on purpose, nothing to fix


def test_other_contacts_are_still_routed(sandbox, routing):
    suppression_add(email="someone.else@example.com")
    contact = contact_seed(sandbox, country="GB")
    contact_route(config=routing, contact_id=contact, trigger="admin")
    assert RoutingDecision.objects.get().status == DecisionStatus.ROUTED
