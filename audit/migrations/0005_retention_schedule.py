"""Seed the daily retention purge in django-celery-beat (03:30 UTC).

Created only if missing: an admin who moved or disabled the schedule keeps their edit when
migrations run again on a later deploy.
"""

from django.db import migrations
from django.utils import timezone

NAME = "Retention purge"
TASK = "audit.tasks.retention_purge_task"


def seed(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    if PeriodicTask.objects.filter(name=NAME).exists():
        return
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="30", hour="3", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    PeriodicTask.objects.create(
        name=NAME, task=TASK, crontab=crontab, enabled=True,
        description="Deletes data past its retention period (SWITCHYARD_RETENTION_DAYS); see docs/security.md.",
    )
    # Tell a running beat to reload its schedule (django-celery-beat README, "Models").
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unseed(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME, task=TASK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0004_append_only_trigger"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(seed, unseed)]
