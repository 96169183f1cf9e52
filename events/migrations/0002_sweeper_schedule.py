"""Seed the beat schedule "Event hub sweeper" (every 5 s).

Create-if-missing only: an admin may retune it in the django-celery-beat admin. The sweeper
puts back deliveries whose worker died, fans out events whose message was lost, wakes every
subscriber with due work and times out waiting executions, so a lost Celery message costs
at most one interval.
"""

from django.db import migrations

TASK_NAME = "Event hub sweeper"


def seed(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    if PeriodicTask.objects.filter(name=TASK_NAME).exists():
        return
    every_5s = IntervalSchedule.objects.filter(every=5, period="seconds").first()
    if every_5s is None:
        every_5s = IntervalSchedule.objects.create(every=5, period="seconds")
    PeriodicTask.objects.create(
        name=TASK_NAME,
        task="events.deliveries_sweep",
        interval=every_5s,
        enabled=True,
        description="Re-queues event deliveries whose worker died, fans out events whose "
        "message was lost, wakes subscribers with due retries, times out waiting executions.",
    )


def unseed(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0001_event_hub"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
