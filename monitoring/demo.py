"""Demo wiring of the operations layer (`manage.py demo_seed`): alerts about the demo portal
post to the Slack stand-in, the seeded runs get their quality measured, and the rules are
evaluated once so the home page has figures from the first login."""

from __future__ import annotations

from pipelines.services.demo import DEMO_SLACK_CONNECTION
from quality.services import run_quality_measure_pending

DEMO_ALERTS_CHANNEL = "#revops-alerts"


def monitoring_demo_seed() -> list[str]:
    from integrations.models import Connection
    from monitoring.models import AlertRule, Severity
    from monitoring.services import alerts_evaluate

    changes = []
    slack = Connection.objects.filter(name=DEMO_SLACK_CONNECTION).first()
    if slack is not None:
        # Critical rules that nobody routed yet tell the demo's Slack channel.
        routed = AlertRule.objects.filter(
            severity=Severity.CRITICAL, slack_connection__isnull=True, email_to=""
        ).update(slack_connection=slack, slack_channel=DEMO_ALERTS_CHANNEL)
        if routed:
            changes.append(f"{routed} critical alert rule(s) post to {DEMO_ALERTS_CHANNEL}")
    from pipelines.models import Workflow

    workflow = Workflow.objects.filter(slug="clay-to-hubspot").first()
    if workflow is not None:
        # A stricter target than the default critical floor, so the demo shows a warning.
        _rule, new = AlertRule.objects.get_or_create(
            name="clay-quality-target",
            defaults={
                "severity": Severity.WARNING,
                "kind": "quality_below",
                "workflow": workflow,
                "threshold_percent": 80,
            },
        )
        if new:
            changes.append("alert rule clay-quality-target (quality below 80 %)")
    measured = run_quality_measure_pending()
    if measured:
        changes.append(f"quality measured for {measured} run(s)")
    result = alerts_evaluate()
    changes.append(f"alerts evaluated: {len(result.open)} open")
    return changes
