"""Thin Celery tasks of the monitoring app."""

from __future__ import annotations

from celery import shared_task

from monitoring.services import alerts_evaluate
from quality.services import run_quality_measure_pending


@shared_task(name="monitoring.alerts_evaluate")
def alerts_evaluate_task() -> dict[str, int]:
    # Measure the runs that finished since the last tick first, so the quality rule sees them.
    run_quality_measure_pending()
    result = alerts_evaluate()
    return {
        "opened": len(result.opened),
        "resolved": len(result.resolved),
        "open": len(result.open),
    }
