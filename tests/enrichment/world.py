"""An enrichment world: the HubSpot sandbox, the Apollo/BuiltWith/Clearbit and Slack
stand-ins, all behind integrations.registry (the production path); connections
named as in the docs; the workflow applied from the documented YAML."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from enrichment.properties import properties_create, properties_plan
from integrations import registry
from integrations.models import Connection
from pipelines.configuration import config_apply
from pipelines.models import Workflow
from sandbox.apollo import ApolloSandbox
from sandbox.builtwith import BuiltWithSandbox
from sandbox.clearbit import ClearbitSandbox
from sandbox.slack import SlackSandbox

WORKFLOW_YAML = """
workflows:
  - slug: daily-company-enrichment
    type: company_enrichment
    destination: {connection: hubspot-main, object: companies}
    select: {created_since_last_run: true}
    schedule: {cron: "0 6 * * *", timezone: America/New_York}
    cache_ttl_hours: 24
    sources:
      - {name: apollo, connection: apollo-main}
      - {name: builtwith, connection: builtwith-main}
    fields:
      - {to: numberofemployees, from: [apollo.estimated_num_employees]}
      - {to: industry, from: [apollo.industry], transforms: [hubspot_industry]}
      - {to: annualrevenue, from: [apollo.annual_revenue]}
      - {to: switchyard_tech_stack, from: [builtwith.technologies], overwrite: true}
    score:
      property: switchyard_fit_score
      rules:
        - {field: numberofemployees, op: between, value: [200, 5000], points: 30}
        - {field: switchyard_tech_stack, op: contains, value: Salesforce, points: 20}
    notify: {slack: {connection: slack-main, channel: "#high-value-accounts", min_score: 75}}
"""


class SlackStandIn(SlackSandbox):
    """The Slack stand-in, with the texts of what was posted, oldest first."""

    def texts(self) -> list[str]:
        return [m.get("text", "") for m in self.messages()]


@dataclass
class World:
    hubspot: object
    apollo: ApolloSandbox
    builtwith: BuiltWithSandbox
    clearbit: ClearbitSandbox
    slack: SlackStandIn
    workflow: Workflow | None = None

    def companies(self) -> dict[str, dict]:
        return {c["properties"]["domain"]: c for c in self.hubspot.objects("companies")}

    def provider_calls(self) -> int:
        return (
            len(self.apollo.request_log)
            + len(self.builtwith.request_log)
            + len(self.clearbit.request_log)
        )


def _connection(name: str, provider: str, auth_type: str, token: str, **fields) -> Connection:
    connection = Connection.objects.create(
        name=name, provider=provider, auth_type=auth_type, max_attempts=2, **fields
    )
    connection.token = token
    connection.save()
    return connection


@pytest.fixture
def world(sandbox, monkeypatch, settings) -> World:
    settings.ENRICHMENT_MAX_RETRY_WAIT = 0
    settings.ENRICHMENT_PENDING_WAIT_SECONDS = 0
    apollo, builtwith, clearbit = ApolloSandbox(), BuiltWithSandbox(), ClearbitSandbox()
    slack = SlackStandIn()
    for provider, app in (("apollo", apollo), ("builtwith", builtwith), ("clearbit", clearbit)):
        monkeypatch.setitem(registry.TRANSPORT_OVERRIDES, provider, httpx.WSGITransport(app=app))
    monkeypatch.setitem(registry.TRANSPORT_OVERRIDES, "slack", httpx.WSGITransport(app=slack))
    _connection("hubspot-main", "hubspot", "private_app", "pat-sandbox")
    _connection("apollo-main", "apollo", "api_key", "apollo-key")
    # The stand-in answers 429 past 10 requests a second, as a BuiltWith plan would; the
    # connection is configured below it, as docs/enrichment.md tells admins to do.
    _connection(
        "builtwith-main",
        "builtwith",
        "api_key",
        "bw-key",
        rate_limit_requests=8,
        rate_limit_seconds=1,
    )
    _connection("clearbit-main", "clearbit", "bearer", "sk_clearbit")
    _connection("slack-main", "slack", "bearer", "xoxb-1")
    return World(sandbox, apollo, builtwith, clearbit, slack)


@pytest.fixture
def workflow(world) -> Workflow:
    config_apply(text=WORKFLOW_YAML)
    workflow = Workflow.objects.get(slug="daily-company-enrichment")
    hubspot = registry.client_for(workflow.destination_connection)
    properties_create(
        client=hubspot, plan=properties_plan(client=hubspot, workflow=workflow), actor_label="test"
    )
    world.workflow = workflow
    return workflow


def seed_companies(world: World, domains: list[str], **extra) -> list[str]:
    return world.hubspot.seed_objects(
        "companies", [{"domain": d, "name": d.split(".")[0].title(), **extra} for d in domains]
    )


def long_ago() -> datetime:
    return datetime.now(UTC) - timedelta(days=30)
