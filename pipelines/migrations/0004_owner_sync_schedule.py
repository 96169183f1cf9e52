"""Seed the beat schedule "Sync HubSpot owners" (hourly).

Create-if-missing only, like the sweeper's: an admin may retune or disable it and a later
migrate must not undo that.
"""

from django.db import migrations

TASK_NAME = "Sync HubSpot owners"


def seed(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    if PeriodicTask.objects.filter(name=TASK_NAME).exists():
        return
    hourly, _ = CrontabSchedule.objects.get_or_create(
        minute="7", hour="*", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    PeriodicTask.objects.create(
        name=TASK_NAME, task="pipelines.routing.owners_sync", crontab=hourly, enabled=True,
        description="Mirrors HubSpot owners (names, archived state) for every connection routing uses; "
                    "routing skips owners HubSpot no longer lists.",
    )


def unseed(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("pipelines", "0003_routing"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
