"""Reads of quality measurements."""

from __future__ import annotations

from datetime import datetime

from quality.models import RunQuality


def run_quality_latest(*, workflow_id: int) -> RunQuality | None:
    return RunQuality.objects.filter(workflow_id=workflow_id).order_by("-measured_at").first()


def run_quality_since(*, workflow_id: int, since: datetime) -> list[RunQuality]:
    return list(
        RunQuality.objects.filter(workflow_id=workflow_id, measured_at__gte=since).order_by(
            "measured_at"
        )
    )
