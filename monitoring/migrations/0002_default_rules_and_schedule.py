"""Seed the default alert rules and the beat schedule "Evaluate alert rules" (every minute).

Create-if-missing only: an admin may retune, disable or delete a rule or the schedule, and a
later migrate must not undo that. Thresholds and their reasons: docs/operations.md, "Alerts".
"""

from django.db import migrations

TASK_NAME = "Evaluate alert rules"
DEFAULT_RULES = [
    # name, severity, kind, extra fields
    ("workflow-failing", "critical", "workflow_failing", {"failing_minutes": 60}),
    ("sync-stopped", "critical", "sync_stopped", {"expected_every_minutes": 24 * 60}),
    ("api-auth-failure", "critical", "auth_failure", {}),
    ("quality-critical", "critical", "quality_below", {"threshold_percent": 50}),
    ("success-rate", "warning", "success_rate", {"threshold_percent": 95}),
    ("slow-run", "warning", "slow_run", {}),
    ("error-rate-up", "warning", "error_rate_up", {}),
    ("quota-80", "warning", "quota_used", {"threshold_percent": 80}),
]


def seed(apps, schema_editor):
    AlertRule = apps.get_model("monitoring", "AlertRule")
    for name, severity, kind, extra in DEFAULT_RULES:
        if not AlertRule.objects.filter(name=name).exists():
            AlertRule.objects.create(name=name, severity=severity, kind=kind, **extra)
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    if PeriodicTask.objects.filter(name=TASK_NAME).exists():
        return
    every_minute = IntervalSchedule.objects.filter(every=60, period="seconds").first()
    if every_minute is None:
        every_minute = IntervalSchedule.objects.create(every=60, period="seconds")
    PeriodicTask.objects.create(
        name=TASK_NAME,
        task="monitoring.alerts_evaluate",
        interval=every_minute,
        enabled=True,
        description="Measures the quality of newly finished runs, evaluates every alert rule, "
        "and notifies when an alert opens or resolves.",
    )


def unseed(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()
    apps.get_model("monitoring", "AlertRule").objects.filter(
        name__in=[name for name, *_ in DEFAULT_RULES]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0001_alert_rules"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
