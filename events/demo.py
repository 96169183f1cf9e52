"""Demo data for the event hub (`manage.py demo_seed`): the connections the deal-won fan-out
and the lead-alert chain name, pointed at the stand-ins, and both applied from YAML exactly
as docs/events.md prints them. Idempotent: connections are created if missing, and a
second config apply changes nothing.

Stand-ins: HubSpot sandbox (8765), Slack stand-in (8766), Clay stand-in (8770), finance
receiver (8771). The warehouse is the demo's PostgreSQL when DATABASE_URL names one.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

from django.conf import settings

from integrations.models import AuthType, Connection, Environment, Provider
from pipelines.configuration import config_apply

# Demo-only secrets, printed in docs/events.md on purpose: they reach local stand-ins only.
DEMO_FINANCE_SIGNING_SECRET = (
    "whsec_" + base64.b64encode(b"switchyard-demo-finance-key-32b!").decode()
)
DEMO_HUBSPOT_APP_SECRET = "demo-hubspot-app-client-secret"  # noqa: S105
DEMO_CLAY_TABLE_TOKEN = "clay-demo-table-token"  # noqa: S105
DEMO_SLACK_TOKEN = "xoxb-demo-slack-token"  # noqa: S105
SAMPLES = Path(settings.BASE_DIR) / "docs" / "samples"


def _url(name: str, default: str) -> str:
    return getattr(settings, name, None) or os.environ.get(name) or default


def _connection(name: str, secrets: dict[str, str], **fields: Any) -> bool:
    from integrations.services import connection_save

    if Connection.objects.filter(name=name).exists():
        return False
    connection_save(
        connection=Connection(name=name, environment=Environment.DEVELOPMENT, **fields),
        secrets=secrets,
        actor_label="command:demo_seed",
    )
    return True


def demo_events_seed() -> list[str]:
    created = []
    clay = _url("SWITCHYARD_SANDBOX_CLAY_URL", "http://127.0.0.1:8770")
    slack = _url("SWITCHYARD_SANDBOX_SLACK_URL", "http://127.0.0.1:8766")
    finance = _url("SWITCHYARD_SANDBOX_HTTP_URL", "http://127.0.0.1:8771")
    hubspot = Connection.objects.filter(name="hubspot-main").first()
    if hubspot is not None and not hubspot.client_secret:
        from integrations.services import connection_save

        connection_save(
            connection=hubspot,
            secrets={"client_secret": DEMO_HUBSPOT_APP_SECRET},
            actor_label="command:demo_seed",
        )
        created.append("hubspot-main webhook secret")
    specs = {
        "slack-main": (
            {"token": DEMO_SLACK_TOKEN},
            {"provider": Provider.SLACK, "auth_type": AuthType.BEARER, "base_url": f"{slack}/api"},
        ),
        "clay-signals-table": (
            {"token": DEMO_CLAY_TABLE_TOKEN},
            {
                "provider": Provider.CLAY,
                "auth_type": AuthType.HEADER_TOKEN,
                "base_url": f"{clay}/tables/signals/webhook",
                "options": {"header": "x-clay-webhook-auth"},
            },
        ),
        "clay-priority-table": (
            {"token": DEMO_CLAY_TABLE_TOKEN},
            {
                "provider": Provider.CLAY,
                "auth_type": AuthType.HEADER_TOKEN,
                "base_url": f"{clay}/tables/priority/webhook",
                "options": {"header": "x-clay-webhook-auth"},
            },
        ),
        "finance-api": (
            {"token": "demo-finance-api-token", "client_secret": DEMO_FINANCE_SIGNING_SECRET},
            {"provider": Provider.HTTP, "auth_type": AuthType.BEARER, "base_url": finance},
        ),
        "warehouse-main": (
            {
                "token": os.environ.get("DATABASE_URL", "")
                or "postgresql://127.0.0.1:5432/switchyard"
            },
            {"provider": Provider.WAREHOUSE, "auth_type": AuthType.DSN, "base_url": ""},
        ),
    }
    for name, (secrets, fields) in specs.items():
        if _connection(name, secrets, **fields):
            created.append(f"connection {name}")
    for sample in ("events-deal-won.yaml", "events-lead-alert.yaml"):
        created += config_apply(
            text=(SAMPLES / sample).read_text(), actor_label="command:demo_seed"
        )
    return created
