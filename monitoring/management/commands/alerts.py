"""`manage.py alerts evaluate [--json]`: evaluate every alert rule now (the beat task does the
same every minute) and print what opened, what resolved and what is open."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from monitoring.services import alerts_evaluate


class Command(BaseCommand):
    help = "Evaluate every alert rule now; notify on each alert that opens or resolves."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        evaluate = sub.add_parser("evaluate", help="evaluate every enabled rule now")
        evaluate.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args, **options):
        result = alerts_evaluate().as_dict()
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
            return
        for key in ("opened", "resolved", "open"):
            self.stdout.write(f"{key}: {len(result[key])}")
            for alert in result[key]:
                self.stdout.write(
                    f"  [{alert['severity']}] {alert['rule']} {alert['subject']}: {alert['summary']}"
                )
