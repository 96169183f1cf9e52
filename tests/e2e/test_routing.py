"""A RevOps admin edits a territory rule, runs the simulator and sees the new owner."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from pipelines.models import RoutingDecision, ScoringRule, StrategyState
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


def test_conditions_are_built_not_typed_and_share_the_simulators_vocabulary(
    live_server, page, login_as, screenshot
):
    config = routing_example(owners_example())
    login_as(make_persona("admin"))
    config_url = f"{live_server.url}/admin/pipelines/routingconfig/{config.pk}/"
    page.goto(f"{config_url}change/")

    # Rule 2 reads as a sentence: state is one of CA, WA, …
    expect(page.locator("textarea[name=rules-1-conditions]")).to_be_hidden()
    rule = page.locator("textarea[name=rules-1-conditions]").locator("xpath=..")
    expect(rule.locator(".sy-cond-field").first).to_have_value("state")
    expect(rule.locator(".sy-cond-op").first).to_have_value("in")
    expect(rule.locator(".sy-cond-value").first).to_have_value("CA, WA, OR, NV, AZ, CO, UT")

    # A scoring rule on employee_count, checked as it is typed.
    scoring = page.locator("textarea[name=scoring_rules-0-conditions]").locator("xpath=..")
    page.fill("input[name=scoring_rules-0-name]", "Big company")
    page.fill("input[name=scoring_rules-0-points]", "30")
    scoring.locator(".sy-cond-add").click()
    condition = scoring.locator(".sy-condition").first
    expect(condition.locator(".sy-cond-problem")).to_have_text("pick a field")
    condition.locator(".sy-cond-field").fill("employee_count")
    condition.locator(".sy-cond-op").select_option("range")
    condition.locator(".sy-cond-min").fill("two hundred")
    expect(condition.locator(".sy-cond-problem")).to_have_text("the bounds must be numbers")
    condition.locator(".sy-cond-min").fill("200")
    expect(condition.locator(".sy-cond-problem")).to_have_text("")
    page.set_viewport_size({"width": 1400, "height": 760})
    screenshot("routing-condition-builder", page.locator("#scoring_rules-group"))
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist .success")).to_contain_text("was changed successfully")
    assert ScoringRule.objects.get(name="Big company").conditions == {
        "employee_count": {"range": {"min": 200}}
    }

    # The simulator takes the same words: employee_count, not numberofemployees.
    page.goto(f"{config_url}simulate/")
    page.fill("#id_contact", "country = Germany")
    page.fill("#id_company", "employee_count = 250")
    page.click("input[name=simulate]")
    expect(page.locator("#sim-score")).to_have_text("30")


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
