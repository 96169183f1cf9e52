"""Seed one beat schedule per sweeper (pipelines.services.sweepers), and run the batch sweeper
every 10 s instead of 30 s: with work claimed from the database, recovery from a lost message
is the heartbeat (20 s) plus one sweep interval.

Create-if-missing only: an admin may retune or disable a schedule in the django-celery-beat
admin, and a later migrate must not undo that. The batch schedule is moved to 10 s only while
it still has the seeded 30 s.
"""

from django.db import migrations

SWEEPERS = [
    # (name, task, seconds, description)
    (
        "Re-queue expired batches",
        "pipelines.batches_sweep",
        10,
        "Re-opens batches whose worker died (lease expired) and wakes a loader for every run "
        "with due batches and no worker on it.",
    ),
    (
        "Wake CSV staging",
        "pipelines.chunks_sweep",
        10,
        "Wakes a stager for every CSV import with unstaged chunks and no worker on it.",
    ),
    (
        "Finish and watch runs",
        "pipelines.runs_sweep",
        30,
        "Finishes runs whose batches all ended, prepares runs whose first message was lost, "
        "marks runs with no progress as stalled.",
    ),
    (
        "Stage stranded Clay events",
        "pipelines.clay_events_sweep",
        30,
        "Stages Clay webhook events received over a minute ago and never staged.",
    ),
    (
        "Route stranded HubSpot events",
        "pipelines.routing.events_sweep",
        30,
        "Routes HubSpot MQL events received over a minute ago and never routed.",
    ),
]


def _every(apps, seconds):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    interval = IntervalSchedule.objects.filter(every=seconds, period="seconds").first()
    return interval or IntervalSchedule.objects.create(every=seconds, period="seconds")


def seed(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, seconds, description in SWEEPERS:
        existing = PeriodicTask.objects.filter(name=name).first()
        if existing is None:
            PeriodicTask.objects.create(
                name=name, task=task, interval=_every(apps, seconds), enabled=True,
                description=description,
            )
        elif existing.interval and (existing.interval.every, existing.interval.period) == (30, "seconds") and seconds != 30:
            existing.interval = _every(apps, seconds)
            existing.description = description
            existing.save(update_fields=["interval", "description"])


def unseed(apps, schema_editor):
    names = [name for name, *_ in SWEEPERS[1:]]
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=names).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("pipelines", "0010_run_liveness"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
