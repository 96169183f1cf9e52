"""The HubSpot webhook under hostile input: refused from its headers before the body is read,
bounded timestamps and JSON depth, NUL bytes, oversized ids. Every refusal is JSON."""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client

from integrations.hubspot.webhooks import signature_v3
from pipelines.models import InboundEvent
from tests.routing.conftest import mql_event, signed_post
from tests.routing.factories import CLIENT_SECRET

pytestmark = pytest.mark.django_db
PATH = "/hooks/hubspot/mql-routing/"


def raw_post(client: Client, body: bytes, *, stamp: str | None = None, **extra):
    stamp = stamp if stamp is not None else str(int(time.time() * 1000))
    signature = signature_v3(
        client_secret=CLIENT_SECRET,
        method="POST",
        uri=f"http://testserver{PATH}",
        body=body,
        timestamp_ms=stamp if stamp.isdigit() and len(stamp) < 16 else 0,
    )
    headers = {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": stamp}
    headers.update(extra.pop("headers", {}))
    return client.generic(
        "POST",
        PATH,
        body,
        content_type=extra.pop("content_type", "application/json"),
        headers=headers,
        **extra,
    )


@pytest.mark.parametrize("stamp", ["9" * 400, "-5", "1.7e12", "abc", "9" * 16])
def test_a_huge_or_malformed_timestamp_is_a_401_with_a_reason(client, routing, stamp):
    response = raw_post(client, json.dumps([mql_event("1")]).encode(), stamp=stamp)
    assert response.status_code == 401
    assert "not a millisecond timestamp" in response.json()["error"]
    assert not InboundEvent.objects.exists()


def test_a_body_declared_over_the_limit_is_413_json_before_reading(client, routing, settings):
    settings.PIPELINE_WEBHOOK_MAX_BYTES = 1024

    class Unreadable:
        """A body that fails the test if the view reads it."""

        def read(self, *_args):
            raise AssertionError("the body was read")

        readline = read

    response = client.generic(
        "POST",
        PATH,
        b"",
        content_type="application/json",
        headers={"X-HubSpot-Signature-v3": "x", "X-HubSpot-Request-Timestamp": "1"},
        CONTENT_LENGTH="20000000",
        **{"wsgi.input": Unreadable()},
    )
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert "larger than 1024 bytes" in response.json()["error"]


def test_a_body_over_the_limit_without_its_length_is_413_json(client, routing, settings):
    settings.PIPELINE_WEBHOOK_MAX_BYTES = 1024
    body = json.dumps([mql_event("1", propertyValue="x" * 5000)]).encode()
    response = raw_post(client, body, CONTENT_LENGTH="100")
    assert response.status_code in (400, 401, 413)  # cut at the declared length: never 500
    response = raw_post(client, body)
    assert response.status_code == 413
    assert not InboundEvent.objects.exists()


def test_missing_signature_headers_are_refused_before_reading(client, routing):
    response = client.post(PATH, data=b"[]", content_type="application/json")
    assert response.status_code == 401
    assert "missing X-HubSpot-Signature-v3" in response.json()["error"]


def test_a_content_type_other_than_json_is_415(client, routing):
    response = raw_post(client, b"a=b", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert not InboundEvent.objects.exists()


@pytest.mark.parametrize("depth", [100, 10_000])
def test_deeply_nested_json_is_a_400_naming_the_limit(client, routing, depth):
    body = b"[" * depth + b"]" * depth
    response = raw_post(client, body)
    assert response.status_code == 400
    assert "deeper than 64 levels" in response.json()["error"]
    assert not InboundEvent.objects.exists()


def test_nul_characters_and_oversized_ids_are_stored_not_500(client, routing):
    events = [
        mql_event("1", propertyName="lifecycle\u0000stage"),
        mql_event("2", event_id="9" * 500),
    ]
    response = signed_post(client, PATH, events)
    assert response.status_code == 200
    assert response.json() == {"received": 2, "stored": 2}
    stored = InboundEvent.objects.order_by("pk")
    assert stored[0].payload["propertyName"] == "lifecyclestage"
    assert len(stored[1].dedupe_key) <= 200


def test_get_is_405_json(client, routing):
    response = client.get(PATH)
    assert response.status_code == 405
    assert response.json() == {"error": "use POST"}
