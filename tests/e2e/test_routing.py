"""A RevOps admin edits a territory rule, runs the simulator and sees the new owner."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from pipelines.models import RoutingDecision, StrategyState
from tests.conftest import make_persona
from tests.routing.factories import owners_example, routing_example

pytestmark = pytest.mark.django_db(transaction=True)


def simulate(page, config_url: str, contact: str) -> None:
    page.goto(f"{config_url}simulate/")
    page.fill("#id_contact", contact)
    page.click("input[name=simulate]")


def test_editing_a_rule_changes_who_the_simulator_picks(live_server, page, login_as):
    config = routing_example(owners_example())
    login_as(make_persona("admin"))
    config_url = f"{live_server.url}/admin/pipelines/routingconfig/{config.pk}/"

    simulate(page, config_url, "country = Germany")
    expect(page.locator("#sim-owner")).to_have_text("Emma Emea (11111)")
    expect(page.locator("#sim-territory")).to_have_text("EMEA")

    # Germany moves to West: rule 1 (EMEA by country) now sends its leads to West.
    page.goto(f"{config_url}change/")
    page.select_option("select[name=rules-0-territory]", label="West")
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist .success")).to_contain_text("was changed successfully")

    page.get_by_role("link", name="Simulator").click()
    expect(page).to_have_url(re.compile(r"/simulate/$"))
    page.fill("#id_contact", "country = Germany")
    page.click("input[name=simulate]")
    expect(page.locator("#sim-owner")).to_have_text("Wendy West (67890)")
    expect(page.locator("#sim-explanation")).to_contain_text("Rule 1 sent it to West")
    assert not RoutingDecision.objects.exists()
    assert not StrategyState.objects.filter(counter__gt=0).exists()


def test_an_unknown_test_in_a_rule_is_refused_at_save(live_server, page, login_as):
    config = routing_example(owners_example())
    login_as(make_persona("admin"))
    page.goto(f"{live_server.url}/admin/pipelines/routingconfig/{config.pk}/change/")
    page.fill("textarea[name=rules-1-conditions]", '{"state": {"near": "CA"}}')
    page.click("input[name=_continue]")
    expect(page.locator(".errorlist").first).to_contain_text("unknown test 'near'")


def test_a_viewer_simulates_with_the_built_in_rules_and_is_told_so(
    live_server, page, login_as, tmp_path
):
    from integrations.models import Connection

    config = routing_example(owners_example())
    config.scoring_connection = Connection.objects.create(
        name="scoring",
        provider="http",
        auth_type="bearer",
        base_url="http://scoring.test",
        token="scoring-secret-token-123456",
    )
    config.save()
    login_as(make_persona("viewer"))
    simulate(
        page, f"{live_server.url}/admin/pipelines/routingconfig/{config.pk}/", "country = Germany"
    )
    expect(page.locator("#sim-owner")).to_have_text("Emma Emea (11111)")
    expect(page.locator("#sim-scoring-offline")).to_contain_text("built-in scoring rules")
    page.screenshot(path=tmp_path / "viewer-simulator.png", full_page=True)
