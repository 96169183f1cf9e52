"""Load the demo data. Idempotent: a second run changes nothing."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from audit.roles import INTEGRATION_ENGINEER, REVOPS_ADMIN
from pipelines.routing.demo import seed_routing
from pipelines.services.demo import demo_pipelines_seed

DEMO_USERNAME = "demo"
# A demo-only password, printed on purpose: the demo runs on a laptop with local data.
DEMO_PASSWORD = "switchyard-demo"  # noqa: S105


class Command(BaseCommand):
    help = "Create the demo admin and demo data (connections to the sandbox, mappings, runs)."

    def handle(self, *args, **options) -> None:
        user, created = get_user_model().objects.get_or_create(
            username=DEMO_USERNAME, defaults={"is_staff": True, "email": "demo@example.com"}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        user.groups.add(*Group.objects.filter(name__in=[REVOPS_ADMIN, INTEGRATION_ENGINEER]))
        self.stdout.write(
            f"==> demo login: {DEMO_USERNAME} / {DEMO_PASSWORD}" + (" (created)" if created else "")
        )
        for item in demo_pipelines_seed(actor=user):
            self.stdout.write(f"==> created {item}")
        # MQL routing: territories, sandbox owners and rules; see pipelines/routing/demo.py.
        for change in seed_routing():
            self.stdout.write(f"==> {change}")
        # Company enrichment: stand-in connections and the workflow (enrichment/demo.py).
        from enrichment.demo import enrichment_demo_seed

        for change in enrichment_demo_seed():
            self.stdout.write(f"==> {change}")
        # Event hub: stand-in connections, the deal-won fan-out and the lead-alert chain.
        from events.demo import demo_events_seed

        for change in demo_events_seed():
            self.stdout.write(f"==> {change}")
        # Operations home: alert routing to the Slack stand-in, quality, a first evaluation.
        from monitoring.demo import monitoring_demo_seed

        for change in monitoring_demo_seed():
            self.stdout.write(f"==> {change}")
