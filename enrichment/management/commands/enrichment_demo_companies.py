"""`manage.py enrichment_demo_companies`: make demo, once the HubSpot sandbox runs: the
custom properties and a few companies to enrich. Idempotent."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from enrichment.demo import enrichment_demo_companies


class Command(BaseCommand):
    help = "Seed the running HubSpot sandbox with demo companies and enrichment properties."

    def handle(self, *args, **options) -> None:
        for item in enrichment_demo_companies():
            self.stdout.write(f"==> created {item}")
