"""Internal events: a finished run becomes a hub event that a subscription can route, once."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.utils import timezone

from events.delivery import subscriber_deliver
from events.fanout import event_fan_out
from events.models import Event, Subscriber
from pipelines.configuration import config_apply
from pipelines.models import Run
from tests.pipelines.factories import WorkflowFactory

pytestmark = pytest.mark.django_db

RUN_ALERT = """
events:
  subscriptions:
    - name: failed-runs
      trigger:
        source: internal
        type: run.finished
        conditions:
          - {field: status, op: equals, value: failure}
      subscribers:
        - {name: ops-channel, kind: slack, connection: slack-main, channel: "#ops", text: "Run {object_id} of {workflow} failed"}
"""


def test_a_failed_run_is_routed_to_slack_once(hub, django_capture_on_commit_callbacks):
    config_apply(text=RUN_ALERT)
    cache.clear()
    workflow = WorkflowFactory(slug="clay-to-hubspot")
    with django_capture_on_commit_callbacks(execute=True):
        run = Run.objects.create(workflow=workflow, trigger="manual", status="running")
    assert not Event.objects.exists()  # not finished yet

    with django_capture_on_commit_callbacks(execute=True):
        run.status, run.finished_at = "failure", timezone.now()
        run.save()
        run.save()  # saved again: still one event
    [event] = Event.objects.all()
    assert (event.source, event.type, event.object_id) == ("internal", "run.finished", str(run.pk))

    event_fan_out(event_id=event.pk)
    subscriber_deliver(subscriber_id=Subscriber.objects.get(name="ops-channel").pk)
    assert [m["text"] for m in hub.slack.messages] == [f"Run {run.pk} of clay-to-hubspot failed"]


def test_nothing_is_stored_when_no_subscription_listens(db, django_capture_on_commit_callbacks):
    cache.clear()
    workflow = WorkflowFactory(slug="quiet")
    with django_capture_on_commit_callbacks(execute=True):
        Run.objects.create(
            workflow=workflow, trigger="manual", status="success", finished_at=timezone.now()
        )
    assert not Event.objects.exists()


def test_every_event_hub_task_is_registered_with_the_worker():
    from config.celery import app

    app.loader.import_default_modules()
    assert {
        "events.fan_out",
        "events.fan_out_due",
        "events.subscriber_deliver",
        "events.deliveries_sweep",
        "events.execution_advance",
    } <= set(app.tasks)
