"""Event-hub tests: every outbound call goes through integrations.registry.client_for, with
HTTP stubbed at one boundary per provider (registry.TRANSPORT_OVERRIDES): the HubSpot
sandbox (plus a recorder for tasks and notes, which the sandbox does not model), the Clay
stand-in, the finance receiver and the Slack stand-in."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from django.core.cache import cache

from integrations import registry
from integrations.models import AuthType, Provider
from sandbox.clay import ClaySandbox
from sandbox.finance import FinanceReceiver
from sandbox.hubspot import HubSpotSandbox
from sandbox.slack import SlackSandbox
from tests.integrations.factories import ConnectionFactory

SIGNING_SECRET = "whsec_" + base64.b64encode(b"finance-signing-key-0123456789ab").decode()
HUBSPOT_CLIENT_SECRET = "hubspot-app-client-secret-0000"

DEAL_WON_YAML = """
events:
  subscriptions:
    - name: deal-won-fanout
      trigger: {source: hubspot-main, object: deal, property: dealstage, to: closedwon}
      subscribers:
        - {name: sales-channel, kind: slack, connection: slack-main, channel: "#sales", text: "Deal {dealname} won: {amount}"}
        - {name: account-signals, kind: clay_table, connection: clay-signals-table}
        - {name: invoice, kind: http, connection: finance-api, path: /invoices}
        - {name: onboarding-task, kind: hubspot_task, connection: hubspot-main, subject: "Onboard {dealname}"}
        - {name: event-log, kind: warehouse, connection: warehouse-main, table: deal_events}
"""


@dataclass
class SlackStandIn:
    """The Slack stand-in (sandbox/slack), reached in-process; ``down`` refuses connections
    (a Slack outage as the client sees it). Rate limit relaxed: tests post in bursts."""

    sandbox: SlackSandbox = field(
        default_factory=lambda: SlackSandbox(per_channel_per_second=1000, burst=1000)
    )
    down: bool = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.WSGITransport(app=self.sandbox).handle_request(request)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.sandbox.messages()


@dataclass
class HubSpotWithEngagements:
    """The sandbox for CRM objects; tasks and notes recorded here (the sandbox has none)."""

    sandbox: HubSpotSandbox
    created: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if "/objects/tasks/" in path or "/objects/notes/" in path:
            inputs = json.loads(request.content)["inputs"]
            results = []
            for item in inputs:
                self.created.append({"path": path, **item})
                results.append(
                    {
                        "id": str(9000 + len(self.created)),
                        "properties": item["properties"],
                        "objectWriteTraceId": item.get("objectWriteTraceId"),
                    }
                )
            return httpx.Response(201, json={"status": "COMPLETE", "results": results})
        return httpx.WSGITransport(app=self.sandbox).handle_request(request)


@dataclass
class WarehouseRecorder:
    rows: dict[str, dict[str, dict]] = field(default_factory=dict)
    down: bool = False
    upserts: int = 0  # calls, each one connection and one commit in the real client

    def ensure_table(self, table: str, columns: dict, key: str) -> None:
        self.rows.setdefault(table, {})

    def upsert(self, table: str, rows: list[dict], key: str) -> int:
        from integrations.errors import Unreachable

        if self.down:
            raise Unreachable("warehouse: OperationalError")
        self.upserts += 1
        for row in rows:
            self.rows[table][row[key]] = row
        return len(rows)

    def close(self) -> None:
        return None


@dataclass
class Hub:
    hubspot: HubSpotWithEngagements
    slack: SlackStandIn
    clay: ClaySandbox
    finance: FinanceReceiver
    warehouse: WarehouseRecorder
    connections: dict[str, Any]


@pytest.fixture
def hub(db, monkeypatch, settings):
    """The deal-won fan-out's five named connections, each behind its stand-in."""
    cache.clear()
    settings.EVENTS_RETRY_SCHEDULE = [0, 5, 60, 300]
    sandbox = HubSpotSandbox(seed=1)
    hub = Hub(
        hubspot=HubSpotWithEngagements(sandbox),
        slack=SlackStandIn(),
        clay=ClaySandbox(callback_delay=0, callback_sender=lambda url, body: None),
        finance=FinanceReceiver(secrets=[SIGNING_SECRET]),
        warehouse=WarehouseRecorder(),
        connections={},
    )
    monkeypatch.setitem(registry.TRANSPORT_OVERRIDES, "hubspot", httpx.MockTransport(hub.hubspot))
    monkeypatch.setitem(registry.TRANSPORT_OVERRIDES, "slack", httpx.MockTransport(hub.slack))
    monkeypatch.setitem(registry.TRANSPORT_OVERRIDES, "clay", httpx.WSGITransport(app=hub.clay))
    monkeypatch.setitem(registry.TRANSPORT_OVERRIDES, "http", httpx.WSGITransport(app=hub.finance))
    original = registry.client_for

    def client_for(connection, **kwargs):
        if connection.provider == "warehouse":
            return hub.warehouse
        return original(connection, **kwargs)

    monkeypatch.setattr(registry, "client_for", client_for)
    monkeypatch.setattr("events.clients.client_for", client_for)
    hub.connections = {
        "hubspot-main": ConnectionFactory(
            name="hubspot-main",
            base_url="http://hubspot.test",
            client_secret=HUBSPOT_CLIENT_SECRET,
            max_attempts=1,
            rate_limit_requests=100_000,
            rate_limit_seconds=10,
        ),
        "slack-main": ConnectionFactory(
            name="slack-main",
            provider=Provider.SLACK,
            auth_type=AuthType.BEARER,
            base_url="http://slack.test/api",
            token="xoxb-test-token",
        ),
        "clay-signals-table": ConnectionFactory(
            name="clay-signals-table",
            provider=Provider.CLAY,
            auth_type=AuthType.HEADER_TOKEN,
            base_url="http://clay.test/tables/signals/webhook",
            token="clay-table-token",
            options={"header": "x-clay-webhook-auth"},
        ),
        "finance-api": ConnectionFactory(
            name="finance-api",
            provider=Provider.HTTP,
            auth_type=AuthType.BEARER,
            base_url="http://finance.test",
            token="finance-api-token",
            client_secret=SIGNING_SECRET,
        ),
        "warehouse-main": ConnectionFactory(
            name="warehouse-main",
            provider=Provider.WAREHOUSE,
            auth_type=AuthType.DSN,
            base_url="",
            token="postgresql://warehouse.test/db",
        ),
    }
    return hub


def deal_stage_event(
    *, deal_id: str, stage: str, event_id: int = 1, occurred_at: int = 1_767_225_600_000
) -> dict[str, Any]:
    """One HubSpot webhook event, as HubSpot sends it (docs/events.md, "HubSpot webhooks")."""
    return {
        "eventId": event_id,
        "subscriptionId": 4242,
        "portalId": 62515,
        "appId": 54321,
        "occurredAt": occurred_at,
        "subscriptionType": "deal.propertyChange",
        "attemptNumber": 0,
        "objectId": int(deal_id),
        "propertyName": "dealstage",
        "propertyValue": stage,
        "changeSource": "CRM_UI",
    }
