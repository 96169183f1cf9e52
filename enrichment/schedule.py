"""The workflow's beat entry (django-celery-beat, editable in the admin): one PeriodicTask
per enrichment workflow, a crontab in the workflow's time zone (default 06:00 daily)."""

from __future__ import annotations

import json
import zoneinfo

from django_celery_beat.models import CrontabSchedule, PeriodicTask

from pipelines.models import Workflow

DEFAULT_CRON = "0 6 * * *"


def cron_check(cron: str, tz: str) -> list[str]:
    problems = []
    if len(str(cron).split()) != 5:
        problems.append(f"cron {cron!r} needs 5 fields: minute hour day-of-month month weekday")
    try:
        zoneinfo.ZoneInfo(str(tz))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        problems.append(f"time zone {tz!r} is not an IANA name such as America/New_York")
    return problems


def schedule_task_name(workflow: Workflow) -> str:
    return f"Enrich companies: {workflow.slug}"


def enrichment_schedule_save(*, workflow: Workflow, cron: str, tz: str, enabled: bool) -> bool:
    """Create or update the beat entry; True when something changed."""
    minute, hour, day_of_month, month, day_of_week = cron.split()
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month,
        day_of_week=day_of_week,
        timezone=zoneinfo.ZoneInfo(tz),
    )
    task, created = PeriodicTask.objects.get_or_create(
        name=schedule_task_name(workflow),
        defaults={
            "task": "enrichment.scheduled",
            "crontab": crontab,
            "kwargs": json.dumps({"workflow": workflow.slug}),
            "enabled": enabled,
            "description": "Enriches the companies created since the last run (docs/enrichment.md).",
        },
    )
    if created:
        return True
    kwargs = json.dumps({"workflow": workflow.slug})
    if task.crontab_id == crontab.pk and task.enabled == enabled and task.kwargs == kwargs:
        return False
    task.crontab, task.enabled, task.args, task.kwargs = crontab, enabled, "[]", kwargs
    task.save()
    return True
