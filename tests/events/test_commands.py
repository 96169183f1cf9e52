"""Configuration as code and the command line of the event hub."""

from __future__ import annotations

import json
from io import StringIO

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from events.models import Delivery, Subscriber, Subscription
from integrations.config_sections import ConfigError
from pipelines.configuration import config_apply, config_export
from tests.events.conftest import DEAL_WON_YAML, deal_stage_event

pytestmark = pytest.mark.django_db


def test_the_deal_won_fanout_applies_as_written_and_a_second_apply_changes_nothing(hub):
    changes = config_apply(text=DEAL_WON_YAML)
    assert "subscription deal-won-fanout: created" in changes
    subscription = Subscription.objects.get(name="deal-won-fanout")
    assert (subscription.source, subscription.object_type) == ("hubspot-main", "deal")
    assert (subscription.property_name, subscription.to_value) == ("dealstage", "closedwon")
    assert dict(Subscriber.objects.values_list("name", "kind")) == {
        "sales-channel": "slack",
        "account-signals": "clay_table",
        "invoice": "http",
        "onboarding-task": "hubspot_task",
        "event-log": "warehouse",
    }
    assert Subscriber.objects.get(name="sales-channel").options == {
        "channel": "#sales",
        "text": "Deal {dealname} won: {amount}",
    }
    assert config_apply(text=DEAL_WON_YAML) == []
    exported = config_export()
    assert "deal-won-fanout" in exported
    assert "Deal {dealname} won: {amount}" in exported


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("connection: slack-main", "connection: slack-nowhere"),
            "line 7: events.subscriptions[0].subscribers[0].connection: no connection named 'slack-nowhere'",
        ),
        (
            ("kind: clay_table", "kind: fax"),
            "line 8: events.subscriptions[0].subscribers[1].kind: 'fax' is not one of slack,",
        ),
        (
            ("connection: finance-api", "connection: slack-main"),
            "events.subscriptions[0].subscribers[2]: slack-main is a slack connection, http needed",
        ),
        (
            ("path: /invoices", "colour: red"),
            "events.subscriptions[0].subscribers[2].colour: unknown key",
        ),
        (('channel: "#sales", ', ""), "subscribers[0]: a slack subscriber needs channel"),
        (
            ("to: closedwon}", "to: closedwon, when: soon}"),
            "events.subscriptions[0].trigger.when: unknown key",
        ),
    ],
)
def test_a_wrong_events_section_names_the_line_and_key_and_writes_nothing(hub, change, message):
    with pytest.raises(ConfigError) as error:
        config_apply(text=DEAL_WON_YAML.replace(*change))
    assert message in str(error.value)
    assert error.value.line in (5, 6, 7, 8, 9)
    assert not Subscription.objects.exists()


def test_emit_deliveries_and_redeliver_from_the_command_line(hub, tmp_path):
    [deal] = hub.hubspot.sandbox.seed_objects("deals", [{"dealname": "Acme", "amount": ""}])
    config_apply(text=DEAL_WON_YAML)
    batch = tmp_path / "batch.json"
    batch.write_text(json.dumps([deal_stage_event(deal_id=deal, stage="closedwon")]))

    out = StringIO()
    call_command("events", "emit", str(batch), "--source", "hubspot-main", "--json", stdout=out)
    assert json.loads(out.getvalue()) == {"events": 1, "deliveries": 5}
    again = StringIO()
    call_command("events", "emit", str(batch), "--source", "hubspot-main", "--json", stdout=again)
    assert json.loads(again.getvalue()) == {"events": 0, "deliveries": 0}

    from events.delivery import subscriber_deliver

    for subscriber_id in Subscriber.objects.values_list("pk", flat=True):
        subscriber_deliver(subscriber_id=subscriber_id)
    listing = StringIO()
    call_command("events", "deliveries", "--state", "dead", "--json", stdout=listing)
    [dead] = json.loads(listing.getvalue())
    assert dead["subscriber"] == "invoice"  # the finance API refuses an invoice without amount
    assert set(dead) == {
        "event_id",
        "subscriber",
        "subscription",
        "state",
        "attempts",
        "last_error",
    }
    assert "422" in dead["last_error"] or "amount" in dead["last_error"].lower()

    out = StringIO()
    call_command("events", "redeliver", "--dead-letters", "--subscriber", "invoice", stdout=out)
    assert "1 dead letter(s)" in out.getvalue()
    assert Delivery.objects.get(subscriber__name="invoice").state == "pending"


def test_emit_refuses_an_unknown_source_and_a_file_that_is_not_json(hub, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CommandError, match="is not JSON"):
        call_command("events", "emit", str(bad), "--source", "hubspot-main")
    good = tmp_path / "good.json"
    good.write_text("[]")
    with pytest.raises(CommandError, match="no connection named 'nobody'"):
        call_command("events", "emit", str(good), "--source", "nobody")
    with pytest.raises(CommandError, match="non-empty array"):
        call_command("events", "emit", str(good), "--source", "hubspot-main")


def test_a_chain_with_a_reply_to_an_unknown_step_is_refused_at_its_line(hub):
    from tests.events.test_executions import LEAD_ALERT_YAML
    from tests.integrations.factories import ConnectionFactory

    ConnectionFactory(name="clay-priority-table", provider="clay", auth_type="header_token")
    broken = LEAD_ALERT_YAML.replace("thread_of: alert", "thread_of: nowhere")
    with pytest.raises(ConfigError) as error:
        config_apply(text=broken)
    assert "events.workflows[0].steps[4].thread_of: no earlier step 'nowhere'" in str(error.value)
    assert error.value.line == 20  # the reply step's line
    assert not Subscription.objects.exists()


def test_the_export_goes_through_the_schema_and_applying_it_changes_nothing(hub):
    text = (
        DEAL_WON_YAML.replace("to: closedwon", "from: appointmentscheduled, to: closedwon").replace(
            "path: /invoices}", "path: /invoices, ordered: false}"
        )
        + """\
  workflows:
    - name: won-alert
      trigger: deal-won-fanout
      steps:
        - {name: alert, kind: slack_message, connection: slack-main, channel: "#sales", text: "Won {dealname}"}
        - {name: wait, kind: wait_callback, timeout_seconds: 900}
"""
    )
    config_apply(text=text)
    exported = config_export()
    assert config_apply(text=exported) == []
    events = yaml.safe_load(exported)["events"]
    assert events["subscriptions"][0]["trigger"] == {
        "source": "hubspot-main",
        "object": "deal",
        "property": "dealstage",
        "from": "appointmentscheduled",
        "to": "closedwon",
    }
    assert {
        "name": "invoice",
        "kind": "http",
        "connection": "finance-api",
        "path": "/invoices",
        "ordered": False,
    } in events["subscriptions"][0]["subscribers"]
    assert events["workflows"] == [
        {
            "name": "won-alert",
            "trigger": "deal-won-fanout",
            "steps": [
                {
                    "name": "alert",
                    "kind": "slack_message",
                    "connection": "slack-main",
                    "channel": "#sales",
                    "text": "Won {dealname}",
                },
                {"name": "wait", "kind": "wait_callback", "timeout_seconds": 900},
            ],
        }
    ]
