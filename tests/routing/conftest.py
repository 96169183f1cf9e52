"""Routing fixtures: a HubSpot sandbox with owners and companies, and the example
configuration (East round robin, West fixed, EMEA weighted; rules by country and state)."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from integrations import registry
from integrations.hubspot.webhooks import signature_v3
from sandbox.hubspot import HubSpotSandbox
from tests.routing.factories import CLIENT_SECRET, OWNERS, TOKEN, owners_example, routing_example


def sandbox_for_routing(**options) -> HubSpotSandbox:
    """A sandbox with our owners (HubSpot's `associatedcompanyid` contact property, the primary
    company's id that routing reads, is in the sandbox's default catalogue)."""
    owners = [
        {"id": i, "firstName": first, "lastName": last, "email": f"{first.lower()}@example.com"}
        for i, (first, last) in OWNERS.items()
    ]
    options = {"rate_limit": 10_000_000, "daily_limit": None, "search_per_second": 1_000, **options}
    app = HubSpotSandbox(owners=owners, tokens={TOKEN}, **options)
    return app


def contact_seed(app: HubSpotSandbox, *, company: dict | None = None, **properties) -> str:
    """A contact (and its company); returns the contact id."""
    if company is not None:
        properties["associatedcompanyid"] = app.seed_objects("companies", [company])[0]
    properties.setdefault("email", f"lead{time.perf_counter_ns()}@example.com")
    return app.seed_objects("contacts", [properties])[0]


@pytest.fixture
def sandbox(monkeypatch) -> HubSpotSandbox:
    app = sandbox_for_routing()
    monkeypatch.setattr(registry, "TRANSPORT_OVERRIDE", httpx.WSGITransport(app=app))
    return app


@pytest.fixture
def owners(db) -> dict[str, object]:
    return owners_example()


@pytest.fixture
def routing(owners):
    """The example configuration of docs/routing.md, built with factories."""
    return routing_example(owners)


def mql_event(
    contact_id: str, *, event_id: int = 1, occurred_at: int = 1_700_000_000_000, **overrides
) -> dict:
    return {
        "eventId": event_id,
        "subscriptionId": 1859972,
        "portalId": 27356661,
        "appId": 1109808,
        "occurredAt": occurred_at,
        "subscriptionType": "contact.propertyChange",
        "attemptNumber": 0,
        "objectId": int(contact_id),
        "propertyName": "lifecyclestage",
        "propertyValue": "marketingqualifiedlead",
        "changeSource": "CRM_UI",
        **overrides,
    }


def signed_post(
    client,
    path: str,
    events: list[dict],
    *,
    secret: str = CLIENT_SECRET,
    timestamp_ms: int | None = None,
    signature: str | None = None,
):
    body = json.dumps(events).encode()
    timestamp_ms = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
    uri = f"http://testserver{path}"
    signature = signature or signature_v3(
        client_secret=secret, method="POST", uri=uri, body=body, timestamp_ms=timestamp_ms
    )
    return client.post(
        path,
        data=body,
        content_type="application/json",
        headers={
            "X-HubSpot-Signature-v3": signature,
            "X-HubSpot-Request-Timestamp": str(timestamp_ms),
        },
    )


class HostTransport(httpx.BaseTransport):
    """One transport per host: the sandbox for HubSpot, stubs for the scoring API and Slack."""

    def __init__(self, routes: dict[str, httpx.BaseTransport]) -> None:
        self.routes = routes

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.routes[request.url.host].handle_request(request)


class Recorder:
    """A stub API: answers with ``reply`` (a response or a callable) and keeps every request."""

    def __init__(self, reply=None) -> None:
        self.requests: list[httpx.Request] = []
        self.reply = reply or httpx.Response(200, json={"ok": True})

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.reply(request) if callable(self.reply) else self.reply

    def bodies(self) -> list[dict]:
        return [json.loads(r.content) for r in self.requests]


@pytest.fixture
def outside(monkeypatch, sandbox):
    """The sandbox at sandbox.test, plus recorders for scoring.test and slack.test."""
    scoring, slack = Recorder(httpx.Response(200, json={"score": 90})), Recorder()
    monkeypatch.setattr(
        registry,
        "TRANSPORT_OVERRIDE",
        HostTransport(
            {
                "sandbox.test": httpx.WSGITransport(app=sandbox),
                "scoring.test": httpx.MockTransport(scoring),
                "slack.test": httpx.MockTransport(slack),
            }
        ),
    )
    return {"sandbox": sandbox, "scoring": scoring, "slack": slack}
