"""Routing decisions are records of work: read-only, labelled in words."""

from __future__ import annotations

import pytest
from django.urls import reverse

from pipelines.models import RoutingDecision
from tests.routing.factories import owners_example, routing_example

pytestmark = pytest.mark.django_db


@pytest.fixture
def decision():
    config = routing_example(owners_example())
    return RoutingDecision.objects.create(
        config=config,
        dedupe_key="k1",
        trigger="admin",
        contact_id="501",
        decision_ms=36.535648000040055,
        owner=config.rules.first().territory.memberships.first().owner,
    )


def test_decisions_cannot_be_deleted(client, admin_user, decision):
    client.force_login(admin_user)

    listing = client.get(reverse("admin:pipelines_routingdecision_changelist"))
    delete = client.post(reverse("admin:pipelines_routingdecision_delete", args=[decision.pk]))
    bulk = client.post(
        reverse("admin:pipelines_routingdecision_changelist"),
        {"action": "delete_selected", "_selected_action": [decision.pk], "post": "yes"},
    )

    assert "delete_selected" not in listing.content.decode()
    assert delete.status_code == 403
    assert bulk.status_code in (200, 302)
    assert RoutingDecision.objects.filter(pk=decision.pk).exists()


def test_labels_read_as_words(client, admin_user, decision):
    client.force_login(admin_user)

    page = client.get(
        reverse("admin:pipelines_routingdecision_change", args=[decision.pk])
    ).content.decode()

    assert "36.5 ms" in page
    assert "36.535648" not in page
    assert "Not sent: no Slack connection in the routing configuration" in page
    assert (
        str(decision.config) == f"Routing of {decision.config.workflow.slug}"
        or str(decision.config) == f"Routing of {decision.config.workflow.name}"
    )
    assert "routing of" not in page
