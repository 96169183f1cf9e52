"""Seed the beat schedule "Re-queue expired batches" (every 30 s).

Create-if-missing only: an admin may retune or disable it in the django-celery-beat admin,
and a later migrate must not undo that. Lease 60 s + sweep 30 s bound the recovery of a
SIGKILLed worker to about 90 s (docs/reference/reliability.md#celery-delivery, F2).
"""

from django.db import migrations

TASK_NAME = "Re-queue expired batches"


def seed(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    if PeriodicTask.objects.filter(name=TASK_NAME).exists():
        return
    every_30s = IntervalSchedule.objects.filter(every=30, period="seconds").first()
    if every_30s is None:
        every_30s = IntervalSchedule.objects.create(every=30, period="seconds")
    PeriodicTask.objects.create(
        name=TASK_NAME, task="pipelines.batches_sweep", interval=every_30s, enabled=True,
        description="Re-dispatches pipeline batches whose worker died (lease expired) or whose "
                    "message was lost, and finishes runs whose last batch ended without doing so.",
    )


def unseed(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("pipelines", "0001_core"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
