"""Demo data for MQL routing: the territories and rules of docs/routing.md, with the sandbox's owners.

Idempotent (config apply is). Called from `manage.py demo_seed`.
"""

from __future__ import annotations

from django.conf import settings

from integrations.models import Connection, Provider
from pipelines.configuration import config_apply
from pipelines.models import Owner
from pipelines.services.demo import demo_slack_connection

# The sandbox's default owners (sandbox/hubspot/store.py DEFAULT_OWNERS get ids 6166861…).
SANDBOX_OWNERS = {
    "6166861": ("Ava", "Owner", "ava.owner@example.com"),
    "6166862": ("Ben", "Rep", "ben.rep@example.com"),
    "6166863": ("Cara", "Sdr", "cara.sdr@example.com"),
}
DEMO_CONNECTION = "hubspot-sandbox"

ROUTING_YAML = """
territories:
  - {name: East, strategy: round_robin, owners: ["6166861", "6166862"]}
  - {name: West, strategy: fixed, owners: ["6166863"]}
  - name: EMEA
    strategy: weighted_round_robin
    owners: [{id: "6166861", weight: 2, daily_cap: 40}, {id: "6166862", weight: 1}]
routing:
  workflow: mql-routing
  hubspot: %(connection)s
  lifecycle_stage: marketingqualifiedlead
  deal_threshold: 75
  fallback_territory: East
  portal_id: "62515"
  slack: {connection: %(slack)s, channel: "#mql-routing"}
  rules:
    - {territory: EMEA, when: {country: {in: [GB, DE, FR, NL, ES, IT, IE, SE]}}}
    - {territory: West, when: {state: {in: [CA, WA, OR, NV, AZ, CO, UT]}}}
    - {territory: East, when: {country: {in: [US, CA]}}}
  scoring_rules:
    - {name: large company, points: 50, when: {employee_count: {range: {min: 200}}}}
    - {name: senior title, points: 30, when: {contact.jobtitle: {contains: VP}}}
    - {name: known industry, points: 10, when: {industry: {is_empty: false}}}
"""


def _sandbox_connection() -> Connection:
    from integrations.services import connection_save

    existing = Connection.objects.filter(
        provider=Provider.HUBSPOT, base_url=settings.SWITCHYARD_SANDBOX_URL
    ).first()
    if existing is not None:
        return existing
    connection = Connection(
        name=DEMO_CONNECTION, provider=Provider.HUBSPOT, base_url=settings.SWITCHYARD_SANDBOX_URL
    )
    # The sandbox accepts any bearer token; the client secret signs the demo's webhooks.
    return connection_save(
        connection=connection,
        secrets={"token": "pat-na1-demo-sandbox-token", "client_secret": "demo-client-secret"},
        actor_label="demo_seed",
    )


def seed_routing() -> list[str]:
    connection = _sandbox_connection()
    for hubspot_id, (first, last, email) in SANDBOX_OWNERS.items():
        Owner.objects.update_or_create(
            hubspot_id=hubspot_id,
            hubspot_connection=connection,
            defaults={"first_name": first, "last_name": last, "email": email},
        )
    slack, _ = demo_slack_connection()
    return config_apply(
        text=ROUTING_YAML % {"connection": connection.name, "slack": slack.name},
        actor_label="demo_seed",
    )
