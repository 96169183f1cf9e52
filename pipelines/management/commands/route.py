"""Route one HubSpot contact now: `manage.py route CONTACT_ID [--dry-run] [--json]`."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from integrations.errors import ProviderError
from pipelines.models import DecisionTrigger
from pipelines.routing.selectors import routing_config_default, routing_config_get
from pipelines.routing.services import contact_route, outcome_json


class Command(BaseCommand):
    help = "Route a HubSpot contact through MQL routing (--dry-run: show the decision, change nothing)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("contact_id")
        parser.add_argument(
            "--workflow", help="Routing workflow slug (needed when there are several)."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Decide without writing or advancing any round."
        )
        parser.add_argument("--json", action="store_true", help="Print the decision as JSON.")

    def handle(self, *args, **options) -> None:
        slug = options.get("workflow")
        config = routing_config_get(workflow_slug=slug) if slug else routing_config_default()
        if config is None:
            raise CommandError(
                "no routing configuration found; name one with --workflow"
                if not slug
                else f"no routing configuration for workflow {slug!r}"
            )
        try:
            outcome = contact_route(
                config=config,
                contact_id=options["contact_id"],
                trigger=DecisionTrigger.COMMAND,
                dry_run=options["dry_run"],
            )
        except (LookupError, ProviderError) as error:
            raise CommandError(str(error)) from None
        result = outcome_json(outcome=outcome)
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False))
            return
        prefix = "[dry run] " if options["dry_run"] else ""
        self.stdout.write(
            f"{prefix}contact {result['contact_id']} → {result['territory'] or '—'} / owner {result['owner_id'] or 'nobody'}"
            f" (score {result['score']}, deal {result['deal_id'] or '—'})"
        )
        self.stdout.write(result["explanation"])
