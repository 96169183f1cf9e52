"""Routing an already-owned contact again never silently changes its owner: Route now warns
and asks; the configuration says what the webhook does."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from integrations import registry
from pipelines.models import RoutingDecision, WhenOwned
from tests.conftest import make_persona
from tests.routing.conftest import contact_seed, sandbox_for_routing
from tests.routing.factories import owners_example, routing_example

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hubspot(monkeypatch):
    app = sandbox_for_routing()
    monkeypatch.setattr(registry, "TRANSPORT_OVERRIDE", httpx.WSGITransport(app=app))
    return app


def _owner_of(app, contact_id: str) -> str:
    return next(
        c["properties"].get("hubspot_owner_id")
        for c in app.objects("contacts")
        if c["id"] == contact_id
    )


def test_route_now_warns_about_the_current_owner_and_asks(
    live_server, page, login_as, hubspot, screenshot
):
    config = routing_example(owners_example())
    # A New York lead (rule: East, Alice 12345) that HubSpot already gives to Wendy (67890).
    contact = contact_seed(hubspot, country="US", state="NY", hubspot_owner_id="67890")
    login_as(make_persona("admin"))
    url = f"{live_server.url}/admin/pipelines/routingconfig/{config.pk}/route/"

    page.goto(url)
    page.fill("#id_contact_id", contact)
    page.click("#route-submit")
    expect(page.locator("#route-owned")).to_contain_text("already owned by")
    expect(page.locator("#route-owned")).to_contain_text("67890")
    assert not RoutingDecision.objects.exists()
    assert _owner_of(hubspot, contact) == "67890"
    screenshot("route-now-owned", page.locator("#content"))

    page.check(f"input[name=when_owned][value={WhenOwned.KEEP}]")
    page.click("#route-confirm")
    expect(page.locator("#route-result")).to_contain_text("Wendy West")
    assert _owner_of(hubspot, contact) == "67890"

    page.goto(url)
    page.fill("#id_contact_id", contact)
    page.click("#route-submit")
    page.check(f"input[name=when_owned][value={WhenOwned.REROUTE}]")
    page.click("#route-confirm")
    expect(page.locator("#route-result")).to_contain_text("Alice East")
    assert _owner_of(hubspot, contact) == "12345"
    kept, rerouted = RoutingDecision.objects.order_by("id")
    assert "kept" in kept.strategy_state["reason"]
    assert rerouted.owner.hubspot_id == "12345"
