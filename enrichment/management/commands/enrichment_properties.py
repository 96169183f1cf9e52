"""`manage.py enrichment_properties --workflow SLUG [--yes]`: show the custom company
properties (group `switchyard`) the workflow writes and HubSpot lacks; create them only
with --yes (or after answering y)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from enrichment.properties import properties_create, properties_plan
from integrations.errors import ProviderError
from integrations.registry import client_for
from pipelines.models import Workflow, WorkflowType


class Command(BaseCommand):
    help = "Create the HubSpot company properties an enrichment workflow writes, if missing."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--workflow", required=True)
        parser.add_argument("--yes", action="store_true", help="Create without asking.")

    def handle(self, *args, **options) -> None:
        workflow = Workflow.objects.filter(
            slug=options["workflow"], type=WorkflowType.COMPANY_ENRICHMENT
        ).first()
        if workflow is None:
            raise CommandError(f"no company enrichment workflow {options['workflow']!r}")
        client = client_for(workflow.destination_connection)
        try:
            plan = properties_plan(client=client, workflow=workflow)
            if not plan["properties"]:
                self.stdout.write("Every property this workflow writes exists. Nothing to do.")
                return
            self.stdout.write("Will create in HubSpot (companies):")
            if plan["group"]:
                self.stdout.write("  property group  switchyard (Switchyard)")
            for prop in plan["properties"]:
                self.stdout.write(
                    f"  property        {prop['name']} ({prop['type']}/{prop['fieldType']}) "
                    f'"{prop["label"]}" in group {prop["groupName"]}'
                )
            if not options["yes"] and input("Create them? [y/N] ").strip().lower() != "y":
                self.stdout.write("Nothing created.")
                return
            made = properties_create(
                client=client, plan=plan, actor_label="command:enrichment_properties"
            )
        except (ProviderError, ValueError) as error:
            raise CommandError(str(error)) from None
        finally:
            client.close()
        self.stdout.write(f"Created: {', '.join(made)}")
