"""Accuracy by QA sampling: a random sample of loaded records, verdicts from a person, the
rate with its Wilson interval and sample size."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from quality.models import QASample
from tests.monitoring.conftest import add_records, finished_run
from tests.pipelines.factories import WorkflowFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(no_default_rules):
    workflow = WorkflowFactory(slug="clay-to-hubspot")
    run = finished_run(workflow, records_in=80)
    add_records(run, [{"email": f"p{i}@acme.com", "firstname": f"P{i}"} for i in range(60)])
    add_records(run, [{"email": f"bad{i}@acme.com"} for i in range(20)], state="dead_lettered")
    return workflow


def test_a_sample_is_drawn_from_loaded_records_only(client, admin_user, synced):
    client.force_login(admin_user)
    response = client.post(reverse("ops:qa-samples"), {"workflow": synced.pk, "size": 50})
    sample = QASample.objects.get()
    assert response["Location"] == reverse("ops:qa-sample", args=[sample.pk])
    assert (sample.size, sample.population) == (50, 60)
    states = set(sample.items.values_list("record__state", flat=True))
    assert states == {"loaded"}
    assert len(set(sample.items.values_list("record_id", flat=True))) == 50  # no repeats
    assert AuditEvent.objects.filter(action="qa_sample.drawn").count() == 1


def test_verdicts_give_accuracy_with_its_interval(client, admin_user, synced):
    client.force_login(admin_user)
    client.post(reverse("ops:qa-samples"), {"workflow": synced.pk, "size": 50})
    sample = QASample.objects.get()
    items = list(sample.items.values_list("pk", flat=True))
    verdicts = {f"item-{pk}": "correct" for pk in items[:48]}
    verdicts |= {f"item-{pk}": "incorrect" for pk in items[48:]}
    verdicts["item-999999"] = "correct"  # not in this sample: ignored
    client.post(reverse("ops:qa-sample", args=[sample.pk]), verdicts)
    sample.refresh_from_db()
    assert (sample.reviewed, sample.correct) == (50, 48)
    assert (round(sample.accuracy_low, 3), round(sample.accuracy_high, 3)) == (0.865, 0.989)
    assert sample.completed_at is not None
    page = client.get(reverse("ops:qa-sample", args=[sample.pk])).content.decode()
    assert "96 % correct (87–99 %, n=50)" in page


def test_viewer_sees_samples_but_cannot_draw_or_review(client, viewer, admin_user, synced):
    client.force_login(viewer)
    assert client.get(reverse("ops:qa-samples")).status_code == 200
    assert (
        client.post(reverse("ops:qa-samples"), {"workflow": synced.pk, "size": 30}).status_code
        == 403
    )
    assert not QASample.objects.exists()


def test_a_workflow_with_nothing_synced_is_a_form_error(client, admin_user, no_default_rules):
    empty = WorkflowFactory(slug="empty")
    client.force_login(admin_user)
    response = client.post(reverse("ops:qa-samples"), {"workflow": empty.pk, "size": 30})
    assert response.status_code == 400
    assert "loaded no records in the last 30 days" in response.content.decode()
