"""Seed the beat schedule "Portal snapshots" (daily, 02:30 UTC): an incremental extract of every
HubSpot portal's contacts and companies, then its quality measured (quality/snapshots.py).

Create-if-missing only: an admin may retime or disable it, and a later migrate keeps that."""

from django.db import migrations

TASK_NAME = "Portal snapshots"


def seed(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    if PeriodicTask.objects.filter(name=TASK_NAME).exists():
        return
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="30", hour="2", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    PeriodicTask.objects.create(
        name=TASK_NAME,
        task="quality.portal_snapshots_take",
        crontab=crontab,
        enabled=True,
        description="Extracts what changed in each HubSpot portal since the last snapshot and "
        "measures the portal's data quality (fill rates, duplicates, worst offenders).",
    )


def unseed(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("quality", "0003_portal_snapshots"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
