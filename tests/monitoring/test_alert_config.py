"""`config apply` takes the `alerts:` section as written in the operations docs."""

from __future__ import annotations

import re

import pytest
import yaml

from integrations.config_sections import ConfigError
from integrations.models import AuthType, Provider
from monitoring.models import AlertRule
from pipelines.configuration import config_apply, config_export
from tests.integrations.factories import ConnectionFactory
from tests.pipelines.factories import HubSpotConnectionFactory, WorkflowFactory

pytestmark = pytest.mark.django_db

ALERTS_YAML = """\
alerts:
  - {name: hubspot-auth, severity: critical, kind: auth_failure, connection: hubspot-main, notify: {slack: {connection: slack-main, channel: "#revops-alerts"}}}
  - {name: sync-stopped, severity: critical, kind: sync_stopped, workflow: clay-to-hubspot, expected_every_minutes: 60, notify: {email: [ops@example.com]}}
  - {name: quota-80, severity: warning, kind: quota_used, connection: hubspot-main, threshold_percent: 80, notify: {slack: {connection: slack-main, channel: "#revops-alerts"}}}
"""


@pytest.fixture
def named_things(db):
    hubspot = HubSpotConnectionFactory(name="hubspot-main")
    ConnectionFactory(
        name="slack-main", provider=Provider.SLACK, auth_type=AuthType.BEARER, token="xoxb-1"
    )
    WorkflowFactory(slug="clay-to-hubspot", destination_connection=hubspot)


def test_apply_creates_the_rules_and_is_idempotent(named_things):
    changes = config_apply(text=ALERTS_YAML)
    # sync-stopped and quota-80 are seeded defaults: the file retunes them.
    assert changes == [
        "alert rule hubspot-auth: created",
        "alert rule sync-stopped: updated",
        "alert rule quota-80: updated",
    ]
    auth = AlertRule.objects.get(name="hubspot-auth")
    assert (auth.connection.name, auth.slack_connection.name, auth.slack_channel) == (
        "hubspot-main",
        "slack-main",
        "#revops-alerts",
    )
    stopped = AlertRule.objects.get(name="sync-stopped")
    assert (stopped.workflow.slug, stopped.expected_every_minutes, stopped.email_to) == (
        "clay-to-hubspot",
        60,
        "ops@example.com",
    )
    assert AlertRule.objects.get(name="quota-80").threshold_percent == 80
    assert config_apply(text=ALERTS_YAML) == []


def test_export_round_trips(named_things):
    config_apply(text=ALERTS_YAML)
    exported = config_export()
    AlertRule.objects.filter(name__in=["hubspot-auth", "sync-stopped", "quota-80"]).delete()
    config_apply(text=exported)
    assert AlertRule.objects.get(name="sync-stopped").expected_every_minutes == 60
    assert config_apply(text=exported) == []


@pytest.mark.parametrize(
    ("replace", "by", "message"),
    [
        (
            "kind: sync_stopped",
            "kind: sync_stoped",
            "line 3: alerts[1].kind: 'sync_stoped' is not one of",
        ),
        ("severity: warning", "severity: high", "line 4: alerts[2].severity"),
        ("threshold_percent: 80", "threshold_percent: 180", "alerts[2].threshold_percent"),
        ("workflow: clay-to-hubspot", "workflow: nope", "alerts[1].workflow: no workflow 'nope'"),
        ("[ops@example.com]", "[not-an-address]", "alerts[1].notify.email"),
        ("connection: slack-main", "connection: hubspot-main", "no Slack connection named"),
        ("expected_every_minutes: 60", "every: 60", "line 3: alerts[1].every: unknown key"),
    ],
)
def test_bad_alerts_are_refused_naming_line_and_key(named_things, replace, by, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        config_apply(text=ALERTS_YAML.replace(replace, by, 1))
    assert not AlertRule.objects.filter(name="hubspot-auth").exists()  # nothing written


def _rules_as_stored() -> list[tuple]:
    return list(AlertRule.objects.order_by("name").values_list())


@pytest.mark.parametrize(
    ("replace", "by", "message"),
    [
        # wrong type
        (
            "expected_every_minutes: 60",
            "expected_every_minutes: hourly",
            "line 3: alerts[1].expected_every_minutes: Input should be a valid integer",
        ),
        (
            "notify: {email: [ops@example.com]}",
            "notify: ops@example.com",
            "line 3: alerts[1].notify: must be a mapping",
        ),
        # out of range
        (
            "expected_every_minutes: 60",
            "expected_every_minutes: 0",
            "line 3: alerts[1].expected_every_minutes: Input should be greater than or equal to 1",
        ),
        (
            "threshold_percent: 80",
            "threshold_percent: -5",
            "line 4: alerts[2].threshold_percent: Input should be greater than or equal to 0",
        ),
        # unknown connection, connection of the wrong kind, a scope the kind does not watch
        (
            "connection: hubspot-main, notify",
            "connection: hubspot-old, notify",
            "line 2: alerts[0].connection: no connection 'hubspot-old'",
        ),
        (
            'connection: slack-main, channel: "#revops-alerts"}}}\n  - {name: sync',
            'connection: slack-old, channel: "#revops-alerts"}}}\n  - {name: sync',
            "line 2: alerts[0].notify.slack.connection: no Slack connection named 'slack-old'",
        ),
        (
            "workflow: clay-to-hubspot",
            "connection: hubspot-main",
            "line 3: alerts[1].connection: a sync_stopped rule watches a workflow",
        ),
        # unknown key, nested
        (
            "notify: {email: [ops@example.com]}",
            "notify: {sms: [ops@example.com]}",
            "line 3: alerts[1].notify.sms: unknown key",
        ),
        # the same rule twice
        ("name: quota-80", "name: hubspot-auth", "line 4: alerts[2].name: rule 'hubspot-auth'"),
    ],
)
def test_bad_file_names_line_and_key_path_and_writes_nothing(named_things, replace, by, message):
    before = _rules_as_stored()
    bad = ALERTS_YAML.replace(replace, by, 1)
    assert bad != ALERTS_YAML
    with pytest.raises(ConfigError) as refused:
        config_apply(text=bad)
    assert str(refused.value).startswith(message)
    assert _rules_as_stored() == before  # neither the new rule nor the retuned defaults


def test_block_style_errors_name_the_line_of_the_nested_key(named_things):
    text = """\
alerts:
  - name: hubspot-auth
    severity: critical
    kind: auth_failure
    notify:
      slack:
        connection: hubspot-main
        channel: "#revops-alerts"
"""
    with pytest.raises(ConfigError) as refused:
        config_apply(text=text)
    assert str(refused.value).startswith(
        "line 7: alerts[0].notify.slack.connection: no Slack connection named 'hubspot-main'"
    )
    assert not AlertRule.objects.filter(name="hubspot-auth").exists()


def test_applying_the_export_changes_nothing(named_things):
    config_apply(text=ALERTS_YAML)
    before = _rules_as_stored()
    exported = config_export()
    assert config_apply(text=exported) == []
    assert _rules_as_stored() == before
    section = yaml.safe_load(exported)["alerts"]
    assert {
        "name": "hubspot-auth",
        "severity": "critical",
        "kind": "auth_failure",
        "connection": "hubspot-main",
        "notify": {"slack": {"connection": "slack-main", "channel": "#revops-alerts"}},
    } in section
    stopped = next(item for item in section if item["name"] == "sync-stopped")
    assert (stopped["workflow"], stopped["expected_every_minutes"], stopped["notify"]) == (
        "clay-to-hubspot",
        60,
        {"email": ["ops@example.com"]},
    )


def test_alerts_run_after_the_sections_they_name(db):
    from pipelines.configuration import SECTIONS

    keys = [section.key for section in SECTIONS]
    assert keys.index("alerts") > max(keys.index("connections"), keys.index("workflows"))
