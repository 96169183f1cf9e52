"""A Viewer's simulation never makes the server call HubSpot or the scoring API with the
connections' credentials: built-in rules only (docs/security.md, "Hostile input")."""

from __future__ import annotations

import pytest
from django.urls import reverse

from integrations.models import Connection
from pipelines.models import RoutingDecision

pytestmark = pytest.mark.django_db


@pytest.fixture
def scored(routing):
    routing.scoring_connection = Connection.objects.create(
        name="scoring",
        provider="http",
        auth_type="bearer",
        base_url="http://scoring.test",
        token="scoring-secret-token-123456",
        max_attempts=1,
    )
    routing.save()
    return routing


def simulate(client, config, data):
    return client.post(reverse("admin:pipelines_routingconfig_simulate", args=[config.pk]), data)


def test_a_viewer_simulates_with_the_built_in_rules_and_no_outside_call(
    client, viewer, outside, scored
):
    client.force_login(viewer)
    response = simulate(client, scored, {"contact": "country = US\nstate = NY", "company": ""})
    assert response.status_code == 200
    assert b"Alice East (12345)" in response.content
    assert outside["scoring"].requests == []
    assert not RoutingDecision.objects.exists()


def test_a_viewer_cannot_make_the_server_read_hubspot(client, viewer, outside, scored):
    client.force_login(viewer)
    response = simulate(client, scored, {"contact_id": "1", "contact": "", "company": ""})
    assert response.status_code == 200
    assert b"needs the permission to change routing" in response.content
    assert b"simulation-result" not in response.content
    assert outside["scoring"].requests == []
    assert outside["sandbox"].request_log == []


def test_a_revops_admin_simulation_still_uses_the_scoring_api(client, admin_user, outside, scored):
    client.force_login(admin_user)
    response = simulate(client, scored, {"contact": "country = US\nstate = NY", "company": ""})
    assert response.status_code == 200
    assert len(outside["scoring"].requests) == 1
