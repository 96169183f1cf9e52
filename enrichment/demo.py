"""Demo data for company enrichment: connections to the stand-ins (make demo starts them on
8767-8769), the daily-company-enrichment workflow, and, once the HubSpot sandbox runs, a
few companies and the custom properties. Idempotent: nothing is created twice."""

from __future__ import annotations

from typing import Any

import httpx
from django.conf import settings

from enrichment.admin_services import enrichment_workflow_save
from enrichment.properties import properties_create, properties_plan
from integrations.base_url import base_url_for
from integrations.models import AuthType, Connection, Environment, Provider
from integrations.registry import client_for
from pipelines.models import Workflow

DEMO_KEYS = {  # demo-only values: they reach the local stand-ins only
    "apollo": "apollo-demo-key",
    "builtwith": "builtwith-demo-key",
    "clearbit": "sk_clearbit_demo",
}
FIELDS = [
    {
        "to": "numberofemployees",
        "from": ["apollo.estimated_num_employees", "clearbit.metrics.employees"],
    },
    {"to": "industry", "from": ["apollo.industry"], "transforms": ["hubspot_industry"]},
    {"to": "annualrevenue", "from": ["apollo.annual_revenue"]},
    {"to": "country", "from": ["apollo.country", "clearbit.geo.country"]},
    {"to": "switchyard_tech_stack", "from": ["builtwith.technologies"], "overwrite": True},
]
SCORE = {
    "property": "switchyard_fit_score",
    "rules": [
        {"field": "numberofemployees", "op": "between", "value": [200, 5000], "points": 30},
        {
            "field": "industry",
            "op": "in",
            "value": ["COMPUTER_SOFTWARE", "INTERNET", "INFORMATION_TECHNOLOGY_AND_SERVICES"],
            "points": 25,
        },
        {"field": "switchyard_tech_stack", "op": "contains", "value": "Salesforce", "points": 20},
        {
            "field": "country",
            "op": "in",
            "value": ["United States", "United Kingdom", "Germany"],
            "points": 10,
        },
    ],
}
COMPANIES = [
    "acme-analytics.com",
    "globex.io",
    "initech.de",
    "umbrella-health.com",
    "stark-industries.com",
    "wayne-enterprises.com",
    "hooli.xyz",
    "unknown-startup.io",
]


def _connection(
    name: str, provider: str, auth_type: str, base_url: str, token: str, **limits: int
) -> Connection:
    from integrations.services import connection_save

    existing = Connection.objects.filter(name=name).first()
    if existing is not None:
        return existing
    return connection_save(
        connection=Connection(
            name=name,
            provider=provider,
            auth_type=auth_type,
            environment=Environment.DEVELOPMENT,
            base_url=base_url,
            **limits,
        ),
        secrets={"token": token},
        actor_label="command:demo_seed",
    )


def enrichment_demo_seed() -> list[str]:
    if Workflow.objects.filter(slug="daily-company-enrichment").exists():
        return []
    apollo = _connection(
        "apollo-main",
        Provider.APOLLO,
        AuthType.API_KEY,
        settings.SWITCHYARD_SANDBOX_APOLLO_URL,
        DEMO_KEYS["apollo"],
    )
    builtwith = _connection(
        "builtwith-main",
        Provider.BUILTWITH,
        AuthType.API_KEY,
        settings.SWITCHYARD_SANDBOX_BUILTWITH_URL,
        DEMO_KEYS["builtwith"],
        # The stand-in allows 10 requests a second, as a BuiltWith plan does; stay below it.
        rate_limit_requests=8,
        rate_limit_seconds=1,
    )
    clearbit = _connection(
        "clearbit-main",
        Provider.CLEARBIT,
        AuthType.BEARER,
        settings.SWITCHYARD_SANDBOX_CLEARBIT_URL,
        DEMO_KEYS["clearbit"],
    )
    slack = Connection.objects.filter(provider=Provider.SLACK).first()
    hubspot = Connection.objects.get(name="hubspot-main")
    changes = enrichment_workflow_save(
        slug="daily-company-enrichment",
        workflow_fields={
            "name": "Daily company enrichment",
            "destination_connection_id": hubspot.pk,
            "enabled": True,
            "slack_connection_id": slack.pk if slack else None,
            "slack_channel": "#high-value-accounts" if slack else "",
        },
        settings_fields={
            "cache_ttl_hours": 24,
            "cron": "0 6 * * *",
            "timezone": "America/New_York",
            "notify_min_score": 75,
        },
        sources=[
            {
                "name": "apollo",
                "connection_id": apollo.pk,
                "daily_call_budget": None,
                "monthly_credit_budget": 500,
                "position": 0,
            },
            {
                "name": "builtwith",
                "connection_id": builtwith.pk,
                "daily_call_budget": None,
                "monthly_credit_budget": None,
                "position": 1,
            },
            {
                "name": "clearbit",
                "connection_id": clearbit.pk,
                "daily_call_budget": 200,
                "monthly_credit_budget": None,
                "position": 2,
            },
        ],
        fields=FIELDS,
        score=SCORE,
        actor_label="command:demo_seed",
        note="demo",
    )
    return changes


def enrichment_demo_companies(*, transport: Any = None) -> list[str]:
    """With the HubSpot sandbox running: the custom properties, then the demo companies
    (only those not there yet, looked up by domain)."""
    workflow = Workflow.objects.get(slug="daily-company-enrichment")
    client = client_for(workflow.destination_connection, transport=transport)
    try:
        made = properties_create(
            client=client,
            plan=properties_plan(client=client, workflow=workflow),
            actor_label="command:demo_seed",
        )
        groups = [{"filters": [{"propertyName": "domain", "operator": "IN", "values": COMPANIES}]}]
        present = {
            str(c["properties"].get("domain"))
            for c in client.search("companies", filter_groups=groups, properties=["domain"])
        }
    finally:
        client.close()
    missing = [d for d in COMPANIES if d not in present]
    if missing:
        records = [
            {"domain": d, "name": d.split(".")[0].replace("-", " ").title()} for d in missing
        ]
        with httpx.Client(transport=transport, timeout=10) as http:
            http.post(
                base_url_for("hubspot", workflow.destination_connection.base_url)
                + "/__sandbox__/seed",
                json={"objectType": "companies", "records": records},
            ).raise_for_status()
    return [*made, *(f"company {d}" for d in missing)]
