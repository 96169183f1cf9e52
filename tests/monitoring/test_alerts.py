"""Alert rules: each kind fires on its symptom and only then; one notification when an alert
opens, none while it stays open, one when it resolves; silence and acknowledge."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import httpx
import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from integrations import registry
from integrations.connection_checks import connection_test
from integrations.models import ConnectionStatus, RequestLog
from monitoring.models import Alert, AlertEvent, AlertEventKind, AlertRule, AlertState
from monitoring.services import alert_acknowledge, alert_rule_silence, alerts_evaluate
from pipelines.models import RunStatus
from sandbox.hubspot import HubSpotSandbox
from tests.monitoring.conftest import finished_run
from tests.pipelines.factories import HubSpotConnectionFactory, WorkflowFactory

pytestmark = pytest.mark.django_db


def rule(kind, severity="warning", **fields):
    return AlertRule.objects.create(name=f"{kind}-rule", kind=kind, severity=severity, **fields)


def test_default_rules_are_seeded():
    kinds = set(AlertRule.objects.values_list("kind", flat=True))
    assert kinds == {
        "workflow_failing",
        "sync_stopped",
        "auth_failure",
        "quality_below",
        "success_rate",
        "slow_run",
        "error_rate_up",
        "quota_used",
    }
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="Evaluate alert rules")
    assert (task.task, task.interval.every, task.interval.period) == (
        "monitoring.alerts_evaluate",
        60,
        "seconds",
    )


def test_auth_failure_opens_once_notifies_once_and_resolves(
    no_default_rules, monkeypatch, slack, slack_connection
):
    sandbox = HubSpotSandbox(tokens={"pat-good"})
    monkeypatch.setitem(registry.TRANSPORT_OVERRIDES, "hubspot", httpx.WSGITransport(app=sandbox))
    hubspot = HubSpotConnectionFactory(name="hubspot-main", token="pat-expired")
    rule(
        "auth_failure",
        severity="critical",
        connection=hubspot,
        slack_connection=slack_connection,
        slack_channel="#revops-alerts",
    )
    assert not connection_test(connection_id=hubspot.pk).ok  # the sandbox answers 401

    first = alerts_evaluate()
    assert [a.subject for a in first.opened] == ["connection:hubspot-main"]
    assert len(slack.messages) == 1
    assert slack.messages[0]["channel"] == "#revops-alerts"
    assert slack.messages[0]["text"].startswith("[CRITICAL] auth_failure-rule")
    assert "pat-expired" not in json.dumps(slack.messages)

    connection_test(connection_id=hubspot.pk)  # still failing
    again = alerts_evaluate()
    assert (again.opened, again.resolved, len(again.open)) == ([], [], 1)
    assert len(slack.messages) == 1  # nothing while it stays open

    hubspot.token = "pat-good"
    hubspot.save()
    assert connection_test(connection_id=hubspot.pk).ok
    restored = alerts_evaluate()
    assert [a.subject for a in restored.resolved] == ["connection:hubspot-main"]
    assert restored.open == []
    assert len(slack.messages) == 2
    assert slack.messages[1]["text"].startswith("RESOLVED")
    alert = Alert.objects.get()
    assert alert.state == AlertState.RESOLVED
    assert list(alert.events.values_list("kind", flat=True)) == [
        "opened",
        "notified",
        "resolved",
        "notified",
    ]


def test_a_connection_marked_needs_reconnect_is_an_auth_failure(no_default_rules, settings):
    settings.ADMINS = [("Ops", "ops@example.com")]
    hubspot = HubSpotConnectionFactory(
        status=ConnectionStatus.NEEDS_RECONNECT, status_message="refresh token revoked"
    )
    rule("auth_failure", severity="critical")
    result = alerts_evaluate()
    assert [a.evidence for a in result.opened] == ["refresh token revoked"]
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ops@example.com"]
    assert hubspot.name in mail.outbox[0].subject


def test_a_failed_notification_is_retried_and_sent_once(no_default_rules, slack, slack_connection):
    workflow = WorkflowFactory()
    finished_run(workflow, status=RunStatus.FAILURE, minutes_ago=90, message="HubSpot 500")
    rule("workflow_failing", "critical", slack_connection=slack_connection, slack_channel="#x")
    slack.fail = True
    alerts_evaluate()
    alert = Alert.objects.get()
    assert alert.open_notified_at is None
    assert alert.events.filter(kind=AlertEventKind.NOTIFY_FAILED).count() == 1
    slack.fail = False
    alerts_evaluate()
    alerts_evaluate()
    assert len(slack.messages) == 1


def test_silenced_rule_opens_alerts_without_notifying(no_default_rules, slack, slack_connection):
    workflow = WorkflowFactory()
    finished_run(workflow, status=RunStatus.FAILURE, minutes_ago=90)
    silenced = rule("workflow_failing", slack_connection=slack_connection, slack_channel="#x")
    alert_rule_silence(
        rule=silenced, until=timezone.now() + timedelta(hours=4), reason="maintenance", user=None
    )
    result = alerts_evaluate()
    assert len(result.opened) == 1
    assert slack.messages == []
    assert AlertEvent.objects.filter(kind=AlertEventKind.NOT_NOTIFIED).count() == 1


def test_acknowledge_is_recorded_once(no_default_rules, admin_user):
    workflow = WorkflowFactory()
    finished_run(workflow, status=RunStatus.FAILURE, minutes_ago=90)
    rule("workflow_failing")
    alert = alerts_evaluate().opened[0]
    alert_acknowledge(alert=alert, user=admin_user)
    alert_acknowledge(alert=alert, user=admin_user)
    alert.refresh_from_db()
    assert alert.acknowledged_by == admin_user
    assert alert.events.filter(kind=AlertEventKind.ACKNOWLEDGED).count() == 1


@pytest.mark.parametrize(
    ("failing_since_minutes", "fires"), [(90, True), (30, False)], ids=["90min", "30min"]
)
def test_workflow_failing_for_more_than_an_hour(no_default_rules, failing_since_minutes, fires):
    workflow = WorkflowFactory()
    finished_run(workflow, status=RunStatus.SUCCESS, minutes_ago=200)
    finished_run(workflow, status=RunStatus.FAILURE, minutes_ago=failing_since_minutes)
    finished_run(workflow, status=RunStatus.FAILURE, minutes_ago=1)
    rule("workflow_failing", failing_minutes=60)
    assert bool(alerts_evaluate().opened) is fires


def test_sync_stopped_fires_after_the_expected_interval_and_resolves_on_success(no_default_rules):
    workflow = WorkflowFactory()
    finished_run(workflow, minutes_ago=120)
    rule("sync_stopped", "critical", workflow=workflow, expected_every_minutes=60)
    opened = alerts_evaluate().opened
    assert len(opened) == 1
    assert "no successful run since" in opened[0].summary
    finished_run(workflow, status=RunStatus.FAILURE, minutes_ago=1)
    assert alerts_evaluate().resolved == []  # a failed run is not a successful one
    finished_run(workflow, minutes_ago=0)
    assert len(alerts_evaluate().resolved) == 1


def test_success_rate_below_95_percent_over_24_hours(no_default_rules):
    workflow = WorkflowFactory()
    for _ in range(19):
        finished_run(workflow)
    rule("success_rate", threshold_percent=95)
    assert alerts_evaluate().opened == []  # 19/19
    finished_run(workflow, status=RunStatus.FAILURE)
    assert alerts_evaluate().opened == []  # 19/20 = 95 %: not below
    finished_run(workflow, status=RunStatus.FAILURE)
    assert "90.5 %" in alerts_evaluate().opened[0].summary  # 19/21


def test_slow_run_is_twice_the_median_of_the_last_20(no_default_rules):
    workflow = WorkflowFactory()
    for ms in [1000] * 10 + [1200] * 10:
        finished_run(workflow, duration_ms=ms)
    rule("slow_run")
    finished_run(workflow, duration_ms=2100)  # median 1100 → limit 2200
    assert alerts_evaluate().opened == []
    finished_run(workflow, duration_ms=2500)
    assert len(alerts_evaluate().opened) == 1


def test_error_rate_trending_up(no_default_rules):
    workflow = WorkflowFactory()
    for _ in range(10):
        finished_run(workflow, records_in=100, dead_lettered=1)
    rule("error_rate_up")
    for _ in range(5):
        finished_run(workflow, records_in=100, dead_lettered=2)
    assert alerts_evaluate().opened == []  # 2 % is twice 1 %, not more than twice
    for _ in range(5):
        finished_run(workflow, records_in=100, dead_lettered=5)
    assert "5.0%" in alerts_evaluate().opened[0].summary


def test_quota_used_above_threshold_from_the_request_log(no_default_rules):
    hubspot = HubSpotConnectionFactory()
    rule("quota_used", connection=hubspot, threshold_percent=80)
    RequestLog.objects.create(
        connection=hubspot, method="POST", path_template="/x", status=200,
        rate_limit_max=100, rate_limit_remaining=30,
    )  # fmt: skip
    assert alerts_evaluate().opened == []  # 70 %
    RequestLog.objects.create(
        connection=hubspot, method="POST", path_template="/x", status=200,
        rate_limit_max=100, rate_limit_remaining=10,
    )  # fmt: skip
    assert "90 %" in alerts_evaluate().opened[0].summary
    hubspot.status = ConnectionStatus.WAITING_FOR_QUOTA
    hubspot.save()
    assert alerts_evaluate().open[0].subject == f"connection:{hubspot.name}"


def test_disabling_a_rule_resolves_its_alerts(no_default_rules):
    workflow = WorkflowFactory()
    finished_run(workflow, status=RunStatus.FAILURE, minutes_ago=90)
    failing = rule("workflow_failing")
    alerts_evaluate()
    failing.enabled = False
    failing.save()
    assert len(alerts_evaluate().resolved) == 1


def test_alerts_evaluate_command_prints_json(no_default_rules):
    workflow = WorkflowFactory(slug="clay-to-hubspot")
    finished_run(workflow, status=RunStatus.FAILURE, minutes_ago=90)
    rule("workflow_failing", "critical")
    out = StringIO()
    call_command("alerts", "evaluate", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert set(data) == {"opened", "resolved", "open"}
    assert [a["subject"] for a in data["opened"]] == ["workflow:clay-to-hubspot"]
    assert [a["severity"] for a in data["open"]] == ["critical"]
    out = StringIO()
    call_command("alerts", "evaluate", "--json", stdout=out)
    assert json.loads(out.getvalue())["opened"] == []


def test_an_idle_connection_is_probed_so_a_revoked_token_alerts_without_a_sync(
    no_default_rules, monkeypatch, slack, slack_connection
):
    sandbox = HubSpotSandbox()
    monkeypatch.setitem(registry.TRANSPORT_OVERRIDES, "hubspot", httpx.WSGITransport(app=sandbox))
    hubspot = HubSpotConnectionFactory(name="hubspot-main", token="pat-good")
    rule("auth_failure", "critical", slack_connection=slack_connection, slack_channel="#alerts")
    assert alerts_evaluate().opened == []  # probed: the token works
    # One Test connection: the ping, and the account-info read that learns the portal.
    probed = RequestLog.objects.filter(connection=hubspot, status=200).count()
    assert probed == 2
    assert alerts_evaluate().opened == []  # answered a minute ago: not probed again
    assert RequestLog.objects.filter(connection=hubspot).count() == probed

    sandbox.config.update({"tokens": ["pat-rotated"]})  # the portal revoked our token
    RequestLog.objects.update(created_at=timezone.now() - timedelta(minutes=2))
    opened = alerts_evaluate().opened
    assert [a.subject for a in opened] == ["connection:hubspot-main"]
    assert len(slack.messages) == 1
    assert slack.messages[0]["channel"] == "#alerts"


def test_missing_default_rules_are_recreated_and_edited_ones_kept(no_default_rules):
    from monitoring.services import alert_rules_defaults_ensure

    AlertRule.objects.create(name="quota-80", severity="critical", kind="quota_used")
    created = alert_rules_defaults_ensure()
    assert "quota-80" not in created
    assert len(created) == 7
    assert AlertRule.objects.get(name="quota-80").severity == "critical"
    assert alert_rules_defaults_ensure() == []
