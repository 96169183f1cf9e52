"""`manage.py diagnose SLUG [--json]`: "why isn't this syncing?" from the command line."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from monitoring.diagnose import workflow_diagnose
from pipelines.models import Workflow


class Command(BaseCommand):
    help = "Run the troubleshooting checks for one workflow and print each verdict."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="the workflow's slug")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args, **options):
        workflow = (
            Workflow.objects.select_related("destination_connection")
            .filter(slug=options["slug"])
            .first()
        )
        if workflow is None:
            raise CommandError(f"no workflow {options['slug']!r}")
        result = workflow_diagnose(workflow=workflow)
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
            return
        self.stdout.write(f"Why isn't {result['workflow']} syncing?")
        for check in result["checks"]:
            mark = "ok  " if check["ok"] else "FAIL"
            self.stdout.write(f"[{mark}] {check['name']}\n       {check['evidence']}")
            if not check["ok"] and check["fix"]:
                self.stdout.write(f"       fix: {check['fix']}")
