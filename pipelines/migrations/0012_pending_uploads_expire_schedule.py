"""Seed the hourly expiry of unconfirmed uploads in django-celery-beat.

Created only if missing: an admin who changed or disabled the schedule keeps their edit.
"""

from django.db import migrations
from django.utils import timezone

NAME = "Expire pending uploads"
TASK = "pipelines.pending_uploads_expire"


def seed(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    if PeriodicTask.objects.filter(name=NAME).exists():
        return
    every, _ = IntervalSchedule.objects.get_or_create(every=1, period="hours")
    PeriodicTask.objects.create(
        name=NAME,
        task=TASK,
        interval=every,
        enabled=True,
        description="Deletes CSV uploads previewed but not confirmed within a day.",
    )
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unseed(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME, task=TASK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("pipelines", "0011_run_chunk_failures"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(seed, unseed)]
