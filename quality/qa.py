"""Accuracy by manual QA: draw a random sample of synced records, record each verdict, and
keep the sample's accuracy with its Wilson 95 % interval (docs/quality.md, "Accuracy")."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.services import audit_event_record
from pipelines.models import RecordState, RunRecord, Workflow
from quality.metrics import wilson_interval
from quality.models import QASample, QASampleItem, QAVerdict

SAMPLE_WINDOW = timedelta(days=30)
MAX_SAMPLE = 400


def qa_population(*, workflow: Workflow, now: Any = None) -> list[int]:
    """Ids of the records the workflow loaded in the last 30 days."""
    now = now or timezone.now()
    return list(
        RunRecord.objects.filter(
            run__workflow=workflow,
            run__created_at__gte=now - SAMPLE_WINDOW,
            state=RecordState.LOADED,
        ).values_list("pk", flat=True)
    )


@transaction.atomic
def qa_sample_draw(*, workflow: Workflow, size: int, user: Any) -> QASample:
    """A simple random sample without replacement (``secrets.SystemRandom``: nobody can
    predict, and so steer, which records get reviewed)."""
    population = qa_population(workflow=workflow)
    if not population:
        raise ValueError(f"{workflow.slug} loaded no records in the last 30 days")
    size = max(1, min(size, MAX_SAMPLE, len(population)))
    chosen = secrets.SystemRandom().sample(population, size)
    sample = QASample.objects.create(
        workflow=workflow, population=len(population), size=size, created_by=user
    )
    QASampleItem.objects.bulk_create(QASampleItem(sample=sample, record_id=pk) for pk in chosen)
    audit_event_record(
        action="qa_sample.drawn",
        actor=user,
        obj=sample,
        metadata={"size": size, "population": len(population)},
    )
    return sample


def qa_sample_recompute(*, sample: QASample) -> QASample:
    items = sample.items.exclude(verdict="")
    reviewed = items.count()
    correct = items.filter(verdict=QAVerdict.CORRECT).count()
    interval = wilson_interval(correct, reviewed)
    sample.reviewed, sample.correct = reviewed, correct
    sample.accuracy, sample.accuracy_low, sample.accuracy_high = (
        interval.rate,
        interval.low,
        interval.high,
    )
    if reviewed == sample.size and sample.completed_at is None:
        sample.completed_at = timezone.now()
    sample.save()
    return sample


@transaction.atomic
def qa_sample_review(*, sample: QASample, verdicts: dict[int, str], user: Any) -> QASample:
    """Record verdicts (item id → correct | incorrect); items not in the sample are ignored."""
    now = timezone.now()
    changed = 0
    for item in sample.items.filter(pk__in=list(verdicts)):
        verdict = verdicts[item.pk]
        if verdict in QAVerdict.values and verdict != item.verdict:
            item.verdict, item.reviewed_by, item.reviewed_at = verdict, user, now
            item.save(update_fields=["verdict", "reviewed_by", "reviewed_at"])
            changed += 1
    sample = qa_sample_recompute(sample=sample)
    audit_event_record(
        action="qa_sample.reviewed",
        actor=user,
        obj=sample,
        metadata={"verdicts": changed, "reviewed": sample.reviewed, "correct": sample.correct},
    )
    return sample
