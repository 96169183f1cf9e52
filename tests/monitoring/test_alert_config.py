"""`config apply` takes the `alerts:` section as written in the operations docs."""

from __future__ import annotations

import re

import pytest

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
        ("kind: sync_stopped", "kind: sync_stoped", "line 3: alerts[1].kind: must be one of"),
        ("severity: warning", "severity: high", "line 4: alerts[2].severity"),
        ("threshold_percent: 80", "threshold_percent: 180", "alerts[2].threshold_percent"),
        ("workflow: clay-to-hubspot", "workflow: nope", "alerts[1].workflow: no workflow 'nope'"),
        ("[ops@example.com]", "[not-an-address]", "alerts[1].notify.email"),
        ("connection: slack-main", "connection: hubspot-main", "no Slack connection named"),
        ("expected_every_minutes: 60", "every: 60", "alerts[1]: unknown key(s) every"),
    ],
)
def test_bad_alerts_are_refused_naming_line_and_key(named_things, replace, by, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        config_apply(text=ALERTS_YAML.replace(replace, by, 1))
    assert not AlertRule.objects.filter(name="hubspot-auth").exists()  # nothing written
