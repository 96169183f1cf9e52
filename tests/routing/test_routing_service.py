"""Routing a lead end to end against the sandbox: owner, deal (once), Slack, scoring-API
failure, dead letters, and the stored explanation."""

from __future__ import annotations

import httpx
import pytest

from audit.models import AuditEvent
from integrations.models import Connection
from integrations.registry import client_for
from pipelines.models import DeadLetter, DecisionStatus, RoutingDecision
from pipelines.routing.leads import leads_fetch
from pipelines.routing.selectors import decision_explanation
from pipelines.routing.services import decision_act, lead_route
from tests.routing.conftest import contact_seed
from tests.routing.factories import ScoringRuleFactory

pytestmark = pytest.mark.django_db

BIG = {"name": "Acme GmbH", "domain": "acme.de", "numberofemployees": "800", "country": "DE"}


def route(config, contact_id: str, key: str = "k1") -> RoutingDecision:
    client = client_for(config.hubspot_connection)
    lead = leads_fetch(client=client, contact_ids=[contact_id])[contact_id]
    return lead_route(config=config, lead=lead, hubspot=client, dedupe_key=key)


def deals(sandbox) -> list[dict]:
    return sandbox.objects("deals")


@pytest.fixture
def big_company_scores_high(routing):
    ScoringRuleFactory(
        config=routing,
        name="large company",
        points=60,
        conditions={"employee_count": {"range": {"min": 500}}},
    )
    ScoringRuleFactory(config=routing, name="EMEA", points=30, conditions={"region": "EMEA"})
    ScoringRuleFactory(
        config=routing,
        name="no title",
        points=-5,
        conditions={"contact.jobtitle": {"is_empty": True}},
    )
    return routing


def test_a_lead_is_assigned_in_hubspot_and_explained(sandbox, routing):
    contact = contact_seed(sandbox, country="GB", firstname="Jane")
    decision = route(routing, contact)
    assert decision.status == DecisionStatus.ROUTED
    assert (decision.territory.name, decision.owner.hubspot_id) == ("EMEA", "11111")
    sandbox_contact = next(c for c in sandbox.objects("contacts") if c["id"] == contact)
    assert sandbox_contact["properties"]["hubspot_owner_id"] == "11111"
    why = decision_explanation(decision=decision)
    assert any(line.startswith("Rule 1 sent it to EMEA: country 'GB' is in") for line in why)
    assert any("did not match" in line for line in why)
    assert why[-1].endswith("Emma Emea (HubSpot owner 11111).")
    assert decision.strategy_state["counter_before"] == 0
    assert decision.strategy_state["chosen"] == "11111"
    assert not deals(sandbox)  # no scoring rules: score 0, below the threshold


def test_above_the_threshold_a_deal_is_created_with_its_associations(
    sandbox, big_company_scores_high
):
    contact = contact_seed(sandbox, company=BIG, country="DE")
    decision = route(big_company_scores_high, contact)
    assert decision.score == 85  # 60 + 30 - 5
    [deal] = deals(sandbox)
    assert decision.deal_id == deal["id"]
    props = deal["properties"]
    assert (props["pipeline"], props["dealstage"], props["hubspot_owner_id"]) == (
        "default",
        "appointmentscheduled",
        "11111",
    )
    assert sandbox.store.associated("deals", deal["id"], "contacts")[0][0] == contact
    assert sandbox.store.associated("deals", deal["id"], "companies")[0][0] == decision.company_id


def test_the_same_decision_twice_creates_one_deal(sandbox, big_company_scores_high):
    contact = contact_seed(sandbox, company=BIG, country="DE")
    first = route(big_company_scores_high, contact, key="event-1")
    again = route(big_company_scores_high, contact, key="event-1")  # a retried webhook
    assert first.pk == again.pk
    assert len(deals(sandbox)) == 1


def test_another_mql_event_for_the_same_contact_reuses_the_deal(sandbox, big_company_scores_high):
    contact = contact_seed(sandbox, company=BIG, country="DE")
    first = route(big_company_scores_high, contact, key="event-1")
    second = route(big_company_scores_high, contact, key="event-2")
    assert second.deal_id == first.deal_id
    assert len(deals(sandbox)) == 1


def test_a_crash_after_creating_the_deal_does_not_create_a_second(sandbox, big_company_scores_high):
    contact = contact_seed(sandbox, company=BIG, country="DE")
    decision = route(big_company_scores_high, contact)
    # The worker died after HubSpot created the deal but before its id was saved.
    RoutingDecision.objects.filter(pk=decision.pk).update(deal_id="", status=DecisionStatus.DECIDED)
    decision.refresh_from_db()
    decision_act(decision=decision, hubspot=client_for(big_company_scores_high.hubspot_connection))
    assert len(deals(sandbox)) == 1
    assert decision.deal_id == deals(sandbox)[0]["id"]


def test_a_failing_scoring_api_falls_back_alerts_and_keeps_the_lead(outside, routing):
    outside["scoring"].reply = httpx.Response(503, json={"error": "down"})
    routing.scoring_connection = Connection.objects.create(
        name="scoring",
        provider="http",
        auth_type="none",
        base_url="http://scoring.test",
        max_attempts=2,
    )
    routing.save()
    contact = contact_seed(
        outside["sandbox"], country="GB"
    )  # EMEA by the rules, but the API decides here
    decision = route(routing, contact)
    assert len(outside["scoring"].requests) == 2  # retried, then gave up
    assert decision.status == DecisionStatus.ROUTED
    assert (decision.score, decision.score_source, decision.territory.name) == (
        None,
        "unavailable",
        "East",
    )
    assert "scoring API failed" in decision.territory_reason
    assert AuditEvent.objects.filter(action="routing.alert.scoring_failed").count() == 1
    assert not deals(outside["sandbox"])


def test_the_scoring_api_may_choose_the_territory(outside, routing):
    outside["scoring"].reply = httpx.Response(200, json={"score": 91, "territory": "West"})
    routing.scoring_connection = Connection.objects.create(
        name="scoring", provider="http", auth_type="none", base_url="http://scoring.test"
    )
    routing.save()
    contact = contact_seed(outside["sandbox"], company=BIG, country="GB")
    decision = route(routing, contact)
    assert (decision.score, decision.territory.name, decision.owner.hubspot_id) == (
        91,
        "West",
        "67890",
    )
    assert outside["scoring"].bodies()[0]["company"]["domain"] == "acme.de"
    assert len(deals(outside["sandbox"])) == 1


def test_the_rep_gets_a_slack_dm_with_the_summary(outside, routing, owners):
    owners["11111"].slack_user_id = "U0EMMA"
    owners["11111"].save()
    routing.slack_connection = Connection.objects.create(
        name="slack",
        provider="slack",
        auth_type="bearer",
        base_url="http://slack.test",
        token="xoxb-test",
    )
    routing.portal_id = "62515"
    routing.save()
    contact = contact_seed(outside["sandbox"], country="GB", firstname="Jane", lastname="Doe")
    decision = route(routing, contact)
    assert decision.notified
    [message] = outside["slack"].bodies()
    assert message["channel"] == "U0EMMA"
    assert "Jane Doe" in message["text"]
    assert "score 0" in message["text"]
    assert f"https://app.hubspot.com/contacts/62515/record/0-1/{contact}" in message["text"]


def test_nobody_to_route_to_means_a_dead_letter(sandbox, routing, owners):
    routing.fallback_territory = None
    routing.save()
    contact = contact_seed(sandbox, country="BR")
    decision = route(routing, contact)
    assert decision.status == DecisionStatus.DEAD_LETTERED
    assert decision.owner is None
    letter = DeadLetter.objects.get()
    assert (letter.stage, letter.category, letter.payload["contact_id"]) == (
        "route",
        "unroutable",
        contact,
    )
    assert letter.run.records_in == 1
    assert letter.run.dead_lettered == 1


def test_a_territory_with_nobody_available_overflows_to_the_fallback(sandbox, routing, owners):
    owners["11111"].active = False
    owners["11111"].save()
    owners["22222"].archived = True
    owners["22222"].save()
    decision = route(routing, contact_seed(sandbox, country="GB"))
    assert (decision.territory.name, decision.owner.hubspot_id) == ("East", "12345")
    assert "EMEA: no owner can take the lead" in decision.territory_reason


def test_a_rep_message_slack_refuses_marks_the_decision_not_the_routing(
    sandbox, routing, owners, monkeypatch, admin_client
):
    from django.urls import reverse

    from integrations import registry
    from pipelines.models import NotificationStatus
    from sandbox.slack import SlackSandbox

    slack = SlackSandbox(missing_scopes={"chat:write"})
    monkeypatch.setitem(registry.TRANSPORT_OVERRIDES, "slack", httpx.WSGITransport(app=slack))
    routing.slack_connection = Connection.objects.create(
        name="slack", provider="slack", auth_type="bearer", token="xoxb-test", max_attempts=1
    )
    routing.slack_channel = "#mql-routing"
    routing.save()
    decision = route(routing, contact_seed(sandbox, country="GB", firstname="Jane"))
    decision.refresh_from_db()
    assert decision.status == DecisionStatus.ROUTED  # the lead is routed all the same
    assert not decision.notified
    assert decision.notification_status == NotificationStatus.FAILED
    assert "missing_scope" in decision.notification_error
    assert AuditEvent.objects.filter(action="notification.failed").count() == 1
    page = admin_client.get(reverse("admin:pipelines_routingdecision_changelist"))
    assert "Notification failed" in page.content.decode()

    slack.configure(missing_scopes=set())
    second = route(routing, contact_seed(sandbox, country="GB", firstname="Joe"), key="k2")
    assert second.notification_status == NotificationStatus.SENT
    assert [m["channel"] for m in slack.messages()] == ["#mql-routing"]
