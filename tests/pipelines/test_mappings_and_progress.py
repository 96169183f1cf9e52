"""Mapping validation against the portal's properties, versioning, progress, the sweeper."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from audit.models import AuditEvent
from pipelines import wakeups
from pipelines.models import BatchState, Run, RunBatch, RunStatus
from pipelines.selectors import field_mapping_current, run_progress
from pipelines.services.mappings import field_mapping_validate, field_mapping_version_create
from pipelines.services.runs import run_prepare
from pipelines.services.staging import run_create_csv
from pipelines.services.sweepers import batches_sweep, runs_sweep
from tests.pipelines.conftest import contact_rows, csv_bytes, import_rows
from tests.pipelines.factories import CLAY_RULES

pytestmark = pytest.mark.django_db


def test_validate_accepts_the_example_mapping(workflow, sandbox):
    transport = httpx.WSGITransport(app=sandbox)

    assert field_mapping_validate(workflow=workflow, rules=CLAY_RULES, transport=transport) == []


def test_validate_names_unknown_properties_read_only_ones_bad_options_and_transforms(
    workflow, sandbox
):
    rules = [
        *CLAY_RULES,
        {"from": "Colour", "to": "favourite_colour", "transforms": []},
        {"from": "Id", "to": "hs_object_id", "transforms": []},
        {
            "from": "Stage",
            "to": "lifecyclestage",
            "transforms": [
                {"name": "map_values", "params": {"mapping": {"MQL": "Marketing Qualified Lead"}}}
            ],
        },
    ]
    problems = field_mapping_validate(
        workflow=workflow, rules=rules, transport=httpx.WSGITransport(app=sandbox)
    )

    text = "\n".join(problems)
    assert "no contacts property named 'favourite_colour'" in text
    assert "'hs_object_id' is read-only" in text
    assert "Marketing Qualified Lead not among the option values" in text
    bad_chain = field_mapping_validate(
        workflow=workflow, rules=[{"from": "Email", "to": "email", "transforms": ["nope"]}]
    )
    assert "unknown transform 'nope'" in bad_chain[0]


def test_editing_a_mapping_creates_a_version_and_runs_keep_theirs(workflow, sandbox, admin_user):
    first_run = import_rows(workflow, contact_rows(1))

    version = field_mapping_version_create(
        workflow=workflow, rules=CLAY_RULES[:3], actor=admin_user
    )
    same = field_mapping_version_create(workflow=workflow, rules=CLAY_RULES[:3], actor=admin_user)

    assert (version.version, same.pk) == (2, version.pk)
    assert field_mapping_current(workflow=workflow) == version
    assert first_run.mapping_version.version == 1
    assert AuditEvent.objects.filter(action="field_mapping.version_created").count() == 1


def test_progress_reports_percent_from_records_in_a_final_state(workflow, sandbox):
    run = run_create_csv(
        workflow=workflow,
        file=io.BytesIO(csv_bytes(contact_rows(150))),
        filename="a.csv",
        dispatch=False,
    )
    assert run_progress(run_id=run.pk)["percent"] == 0

    run_prepare(run_id=run.pk, dispatch=False)
    from pipelines.services.loading import batch_process

    batch_process(batch_id=RunBatch.objects.filter(run=run).order_by("sequence").first().pk)
    progress = run_progress(run_id=run.pk)

    assert (
        progress["status"],
        progress["records_in"],
        progress["processed"],
        progress["percent"],
    ) == (RunStatus.RUNNING, 150, 100, 67)
    assert progress["batches_done"] == 1
    assert not progress["finished"]


def test_sweeper_wakes_a_loader_for_a_run_with_due_batches_and_no_worker_on_it(
    workflow, sandbox, monkeypatch
):
    woken: list[int] = []
    monkeypatch.setattr(wakeups, "run_load_wake", lambda *, run_id: woken.append(run_id) or True)
    run = run_create_csv(
        workflow=workflow,
        file=io.BytesIO(csv_bytes(contact_rows(10))),
        filename="a.csv",
        dispatch=False,
    )
    run_prepare(run_id=run.pk, dispatch=False)  # committed, never published: the on_commit gap

    assert batches_sweep()["woken"] == 1
    assert woken == [run.pk]

    # A loader claimed from the run a moment ago: it is awake, no second wake-up.
    Run.objects.filter(pk=run.pk).update(worker_seen_at=timezone.now())
    assert batches_sweep()["woken"] == 0
    # Its heartbeat is older than PIPELINE_WORKER_HEARTBEAT_SECONDS: woken again.
    later = timezone.now() + timedelta(seconds=21)
    assert batches_sweep(now=later)["woken"] == 1
    # A batch in backoff is not due: nothing to wake for.
    RunBatch.objects.filter(run=run).update(available_at=later + timedelta(minutes=5))
    assert batches_sweep(now=later)["woken"] == 0
    assert woken == [run.pk, run.pk]


def test_sweeper_finishes_a_run_whose_last_batch_died_before_finishing_it(workflow, sandbox):
    run = import_rows(workflow, contact_rows(5))
    Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, finished_at=None)

    assert runs_sweep()["finished"] == 1
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCESS
    assert RunBatch.objects.get(run=run).state == BatchState.DONE


def test_each_sweeper_has_its_own_schedule_seeded_by_migration(db):
    from django_celery_beat.models import PeriodicTask

    schedules = {
        task.task: (task.interval.every, task.interval.period, task.enabled)
        for task in PeriodicTask.objects.filter(
            task__startswith="pipelines.", task__contains="sweep"
        )
    }
    assert schedules == {
        "pipelines.batches_sweep": (10, "seconds", True),
        "pipelines.chunks_sweep": (10, "seconds", True),
        "pipelines.runs_sweep": (30, "seconds", True),
        "pipelines.clay_events_sweep": (30, "seconds", True),
        "pipelines.routing.events_sweep": (30, "seconds", True),
    }


def test_a_finished_run_posts_its_summary_to_slack_once(
    workflow, sandbox, django_capture_on_commit_callbacks
):
    from integrations.models import AuthType, Provider
    from pipelines.services.runs import run_notify
    from tests.integrations.factories import ConnectionFactory

    workflow.slack_connection = ConnectionFactory(
        name="slack-alerts",
        provider=Provider.SLACK,
        auth_type=AuthType.WEBHOOK_URL,
        base_url="",
        token="https://hooks.slack.com/services/T000/B000/XXXXXXXX",
    )
    workflow.save()
    posted = []
    slack = httpx.MockTransport(
        lambda request: posted.append(request) or httpx.Response(200, text="ok")
    )
    with django_capture_on_commit_callbacks() as callbacks:
        run = import_rows(workflow, contact_rows(3) + [{**contact_rows(1)[0], "Email": "nope"}])
    assert callbacks  # the notification is enqueued only once the run's transaction commits

    assert run_notify(run_id=run.pk, transport=slack) is True
    assert run_notify(run_id=run.pk, transport=slack) is False

    text = json.loads(posted[0].content)["text"]
    assert "3 contacts synced, 1 failed" in text
    assert f"/pipelines/run/{run.pk}/change/" in text


def test_sweeper_routes_stranded_hubspot_events_and_never_stages_them_as_clay_rows(
    workflow, monkeypatch
):
    from pipelines import tasks as pipeline_tasks
    from pipelines.models import InboundEvent
    from pipelines.routing import tasks as routing_tasks
    from pipelines.routing.intake import routing_events_sweep
    from pipelines.services.sweepers import clay_events_sweep

    routed, staged = [], []
    monkeypatch.setattr(routing_tasks.routing_events_process_task, "delay", routed.append)
    monkeypatch.setattr(pipeline_tasks.inbound_events_process_task, "delay", staged.append)
    old = timezone.now() - timedelta(minutes=5)
    hubspot = InboundEvent.objects.create(
        source="hubspot",
        workflow=workflow,
        dedupe_key="hs-1",
        payload={"objectId": 1},
        received_at=old,
    )
    InboundEvent.objects.create(
        source="hubspot", dedupe_key="hs-fresh", payload={}, received_at=timezone.now()
    )
    clay = InboundEvent.objects.create(
        source="clay",
        workflow=workflow,
        dedupe_key="clay-1",
        payload={"Email": "a@example.com"},
        received_at=old,
    )

    assert routing_events_sweep() == {"sent": 1}
    assert clay_events_sweep() == {"woken": 1}

    assert routed == [[hubspot.pk]]
    assert staged == [clay.workflow_id]
