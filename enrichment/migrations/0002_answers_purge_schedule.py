"""Seed the beat schedule "Purge expired enrichment answers" (daily, 03:17 UTC).

Create-if-missing only: an admin may retune or disable it and a later migrate must not undo
that (the same rule as the pipelines' schedules).
"""

from django.db import migrations

TASK_NAME = "Purge expired enrichment answers"


def seed(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    if PeriodicTask.objects.filter(name=TASK_NAME).exists():
        return
    daily, _ = CrontabSchedule.objects.get_or_create(
        minute="17", hour="3", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    PeriodicTask.objects.create(
        name=TASK_NAME,
        task="enrichment.answers_purge",
        crontab=daily,
        enabled=True,
        description="Deletes cached provider answers past their workflow's TTL (docs/enrichment.md).",
    )


def unseed(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("enrichment", "0001_company_enrichment"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
