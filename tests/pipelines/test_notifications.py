"""Run summaries on Slack, through the production path (registry.client_for, default base URL)
against the Slack stand-in: a failed message is visible on the run, counted for alerts, and a
destination Slack calls gone stops being called."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from integrations import registry
from integrations.connection_checks import connection_test
from integrations.errors import ServerError
from integrations.models import AuthType, ConnectionStatus, Provider
from integrations.services import connection_save
from pipelines.models import NotificationStatus, Run
from pipelines.selectors import notifications_failed_count
from pipelines.services.runs import run_notify
from sandbox.slack import SlackSandbox
from tests.integrations.factories import ConnectionFactory
from tests.pipelines.conftest import contact_rows, import_rows

HOOK_PATH = "/services/T000/B0RUNS/XXXXSECRET"


@pytest.fixture
def slack(monkeypatch):
    app = SlackSandbox()
    monkeypatch.setitem(registry.TRANSPORT_OVERRIDES, "slack", httpx.WSGITransport(app=app))
    return app


@pytest.fixture
def bot_workflow(workflow):
    workflow.slack_connection = ConnectionFactory(
        name="slack-bot", provider=Provider.SLACK, auth_type=AuthType.BEARER, base_url="",
        token="xoxb-runs-bot", max_attempts=1,
    )  # fmt: skip
    workflow.slack_channel = "C0RUNS"
    workflow.save()
    return workflow


@pytest.fixture
def hook_workflow(workflow):
    workflow.slack_connection = ConnectionFactory(
        name="slack-hook", provider=Provider.SLACK, auth_type=AuthType.WEBHOOK_URL, base_url="",
        token=f"https://hooks.slack.com{HOOK_PATH}", max_attempts=1,
    )  # fmt: skip
    workflow.save()
    return workflow


def finished_run(workflow, sandbox) -> Run:
    return import_rows(workflow, contact_rows(2))


def test_a_delivered_summary_is_marked_sent(bot_workflow, sandbox, slack):
    run = finished_run(bot_workflow, sandbox)
    assert run_notify(run_id=run.pk) is True
    [message] = slack.messages("C0RUNS")
    assert "2 contacts synced" in message["text"]
    run.refresh_from_db()
    assert (run.notification_status, run.notification_error) == (NotificationStatus.SENT, "")
    assert run.notified_at is not None


def test_an_archived_channel_marks_the_run_and_stops_the_connection(
    bot_workflow, sandbox, slack, admin_client
):
    slack.configure(archived_channels={"C0RUNS"})
    before = timezone.now() - timedelta(seconds=1)
    run = finished_run(bot_workflow, sandbox)
    assert run_notify(run_id=run.pk) is False
    run.refresh_from_db()
    assert run.notification_status == NotificationStatus.FAILED
    assert "is_archived" in run.notification_error
    assert run.notified_at is None
    assert slack.messages() == []
    assert notifications_failed_count(since=before) == 1
    connection = bot_workflow.slack_connection
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.NEEDS_ATTENTION
    assert "is_archived" in connection.status_message
    assert AuditEvent.objects.filter(action="connection.needs_attention").count() == 1
    # The admin shows it in the run list and on the run's page, with the reason.
    page = admin_client.get(reverse("admin:pipelines_run_changelist"))
    assert "Notification failed" in page.content.decode()
    detail = admin_client.get(reverse("switchyard:run", args=[run.pk])).content.decode()
    assert "Notification failed" in detail
    assert "is_archived" in detail

    # The next run's summary is not sent to the gone destination at all.
    calls = len(slack.requests)
    second = finished_run(bot_workflow, sandbox)
    assert run_notify(run_id=second.pk) is False
    assert len(slack.requests) == calls
    second.refresh_from_db()
    assert second.notification_status == NotificationStatus.FAILED
    assert "needs attention" in second.notification_error
    assert notifications_failed_count(since=before) == 2
    assert AuditEvent.objects.filter(action="connection.needs_attention").count() == 1


def test_a_transient_failure_is_marked_then_retried_to_sent(bot_workflow, sandbox, monkeypatch):
    answers = iter(
        [
            httpx.Response(200, json={"ok": False, "error": "service_unavailable"}),
            httpx.Response(200, json={"ok": True, "channel": "C0RUNS", "ts": "1.2"}),
        ]
    )
    monkeypatch.setitem(
        registry.TRANSPORT_OVERRIDES, "slack", httpx.MockTransport(lambda r: next(answers))
    )
    run = finished_run(bot_workflow, sandbox)
    with pytest.raises(ServerError):  # the Celery task retries it
        run_notify(run_id=run.pk)
    run.refresh_from_db()
    assert run.notification_status == NotificationStatus.FAILED
    assert bot_workflow.slack_connection.status == ConnectionStatus.ACTIVE
    assert run_notify(run_id=run.pk) is True
    run.refresh_from_db()
    assert run.notification_status == NotificationStatus.SENT


def test_a_revoked_webhook_needs_attention_until_it_is_replaced(hook_workflow, sandbox, slack):
    slack.kill_webhook(HOOK_PATH, "no_service")
    run = finished_run(hook_workflow, sandbox)
    assert run_notify(run_id=run.pk) is False
    connection = hook_workflow.slack_connection
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.NEEDS_ATTENTION
    assert "no_service" in connection.status_message
    # Test connection still reaches it (without posting) and says it is dead.
    assert not connection_test(connection_id=connection.pk).ok
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.NEEDS_ATTENTION
    # A new webhook URL makes it usable again.
    connection_save(
        connection=connection,
        secrets={"token": "https://hooks.slack.com/services/T000/B0NEW/NEWSECRET"},
    )
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.ACTIVE
    assert connection_test(connection_id=connection.pk).ok
    second = finished_run(hook_workflow, sandbox)
    assert run_notify(run_id=second.pk) is True
    assert [m["channel"] for m in slack.messages()] == ["webhook:B0NEW"]


def test_test_connection_reactivates_a_fixed_destination(hook_workflow, slack):
    slack.kill_webhook(HOOK_PATH, "channel_is_archived")
    connection = hook_workflow.slack_connection
    connection.status = ConnectionStatus.NEEDS_ATTENTION
    connection.save()
    assert not connection_test(connection_id=connection.pk).ok
    slack.configure(dead_webhooks={})  # someone unarchived the channel
    assert connection_test(connection_id=connection.pk).ok
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.ACTIVE
    assert slack.messages() == []  # testing posts nothing


def test_a_bot_connection_without_a_channel_fails_the_summary_but_stays_usable(
    bot_workflow, sandbox, slack
):
    bot_workflow.slack_channel = ""
    bot_workflow.save()
    run = finished_run(bot_workflow, sandbox)
    assert run_notify(run_id=run.pk) is False
    run.refresh_from_db()
    assert run.notification_status == NotificationStatus.FAILED
    assert "names no Slack channel" in run.notification_error
    assert slack.requests == []  # nothing was sent
    bot_workflow.slack_connection.refresh_from_db()
    assert bot_workflow.slack_connection.status == ConnectionStatus.ACTIVE
