"""`manage.py enrich_companies --workflow SLUG [--since ISO-DATE] [--company-id ID …]
[--domains-file CSV] [--dry-run] [--refresh] [--wait] [--json]`.

Without --wait the run is queued for a worker and the command prints it as pending; with
--wait it runs here, in this process, to the end (same services as the worker)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from enrichment.selection import domains_read
from enrichment.selectors import enrichment_run_summary
from enrichment.services import (
    enrichment_run_create,
    enrichment_run_dispatch,
    enrichment_run_execute,
)
from pipelines.models import RunTrigger, Workflow, WorkflowType


def _since(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--since {text!r} is not an ISO date such as 2026-12-01") from None
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = "Enrich HubSpot companies now through an enrichment workflow."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--workflow", required=True, help="Enrichment workflow slug.")
        parser.add_argument("--since", help="Companies created since (ISO date), not the cursor.")
        parser.add_argument("--company-id", action="append", dest="company_ids", default=[])
        parser.add_argument("--domains-file", help="CSV of target-account domains.")
        parser.add_argument("--dry-run", action="store_true", help="Decide, write nothing.")
        parser.add_argument("--refresh", action="store_true", help="Ignore cached answers.")
        parser.add_argument("--wait", action="store_true", help="Run here until it finishes.")
        parser.add_argument("--json", action="store_true", help="Print the run's figures as JSON.")

    def handle(self, *args, **options) -> None:
        workflow = Workflow.objects.filter(
            slug=options["workflow"], type=WorkflowType.COMPANY_ENRICHMENT
        ).first()
        if workflow is None:
            raise CommandError(f"no company enrichment workflow {options['workflow']!r}")
        domains = None
        if options["domains_file"]:
            path = Path(options["domains_file"])
            if not path.is_file():
                raise CommandError(f"{path} is not a file")
            domains, problems = domains_read(path.read_bytes())
            for problem in problems:
                self.stderr.write(f"{path.name}: {problem}")
            if not domains:
                raise CommandError(f"{path.name}: no domains to enrich")
        try:
            with transaction.atomic():
                run = enrichment_run_create(
                    workflow=workflow,
                    trigger=RunTrigger.MANUAL,
                    actor_label="command:enrich_companies",
                    since=_since(options["since"]) if options["since"] else None,
                    company_ids=options["company_ids"],
                    domains=domains,
                    dry_run=options["dry_run"],
                    refresh=options["refresh"],
                )
                if not options["wait"]:
                    enrichment_run_dispatch(run=run)
        except ValueError as error:
            raise CommandError(str(error)) from None
        if options["wait"]:
            run = enrichment_run_execute(run_id=run.pk)
        summary = enrichment_run_summary(run_id=run.pk)
        if options["json"]:
            self.stdout.write(json.dumps(summary))
            return
        self.stdout.write(
            f"run {summary['run_id']}: {summary['status']} — {summary['records_in']} companies, "
            f"{summary['succeeded']} updated, {summary['skipped']} unchanged, "
            f"{summary['dead_lettered']} dead-lettered; {summary['provider_calls']} provider "
            f"calls, {summary['cache_hits']} cache hits, {summary['credits_spent']} credits"
        )
