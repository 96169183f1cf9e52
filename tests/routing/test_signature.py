"""HubSpot v3 webhook signatures (docs/reference/hubspot.md, "Webhook signatures") and the
receiver: valid, tampered, stale, replayed."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from integrations.hubspot.webhooks import (
    event_dedupe_key,
    signature_uri,
    signature_v3,
    signature_v3_valid,
)
from pipelines.models import InboundEvent, RoutingDecision
from tests.routing.conftest import contact_seed, mql_event, signed_post

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"  # the client secret of HubSpot's own examples
# The expected signatures below were computed outside our code, with OpenSSL, following
# HubSpot's published v3 steps (method + URI + raw body + timestamp, HMAC-SHA256 keyed by the
# client secret, base64):
#   printf '%s' 'POSThttps://www.example.com/webhook_uri[{"eventId":1}]1564113600000' \
#     | openssl dgst -sha256 -hmac "$SECRET" -binary | base64
VECTOR = dict(
    client_secret=SECRET,
    method="POST",
    uri="https://www.example.com/webhook_uri",
    body=b'[{"eventId":1}]',
    timestamp_ms=1564113600000,
)
VECTOR_SIGNATURE = "AEMA10aqR9xcXb2nlXZor9+cwkt0dNke3bXg59HJrZ4="
AT_VECTOR_TIME = datetime.fromtimestamp(1564113600, tz=UTC)


def test_the_reference_vector():
    assert signature_v3(**VECTOR) == VECTOR_SIGNATURE


# The URI as received (HubSpot signs it with %40 and %3A decoded) and a UTF-8 body with a
# non-ASCII value, hashed as raw bytes. OpenSSL over the decoded URI and the same bytes:
#   printf '%s' 'POSThttps://www.example.com/webhook_uri?portal=@62515:x[{...,"propertyValue":"Zürich",...}]1564113600000' \
#     | openssl dgst -sha256 -hmac "$SECRET" -binary | base64
ESCAPED_UTF8_BODY = (
    '[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
    '"subscriptionType":"contact.propertyChange","attemptNumber":0,"objectId":123,'
    '"propertyName":"city","propertyValue":"Zürich","changeSource":"CRM","appId":54321}]'
).encode()


def test_an_escaped_uri_and_a_non_ascii_body_match_openssl():
    assert (
        signature_v3(
            client_secret=SECRET,
            method="POST",
            uri="https://www.example.com/webhook_uri?portal=%4062515%3ax",
            body=ESCAPED_UTF8_BODY,
            timestamp_ms=1564113600000,
        )
        == "/5GbcHn+hv+vCHYmKtKbJrCLzoDOozm7cwHWe4sAJ/0="
    )


def test_valid_signature_within_five_minutes():
    later = datetime.fromtimestamp(1564113600 + 299, tz=UTC)
    assert signature_v3_valid(**VECTOR, signature=VECTOR_SIGNATURE, now=later)


@pytest.mark.parametrize(
    "change",
    [
        {"body": b'[{"eventId":2}]'},
        {"method": "PUT"},
        {"uri": "https://www.example.com/other"},
        {"client_secret": "another-secret"},
        {"timestamp_ms": 1564113600001},
    ],
)
def test_tampered_requests_fail(change):
    assert not signature_v3_valid(
        **{**VECTOR, **change}, signature=VECTOR_SIGNATURE, now=AT_VECTOR_TIME
    )


@pytest.mark.parametrize("seconds", [301, -301, 3600])
def test_stale_or_future_timestamps_fail(seconds):
    then = datetime.fromtimestamp(1564113600 + seconds, tz=UTC)
    assert not signature_v3_valid(**VECTOR, signature=VECTOR_SIGNATURE, now=then)


@pytest.mark.parametrize("signature", [None, "", "not-base64", VECTOR_SIGNATURE.lower()])
def test_missing_or_wrong_signatures_fail(signature):
    assert not signature_v3_valid(**VECTOR, signature=signature, now=AT_VECTOR_TIME)


def test_only_the_listed_escapes_are_decoded():
    assert (
        signature_uri("https://x.test/a%3Ab%2Fc?d=%40e%2a%20f") == "https://x.test/a:b/c?d=@e*%20f"
    )


def test_the_dedupe_key_uses_more_than_the_event_id():
    event = mql_event("42", event_id=7)
    assert event_dedupe_key(event) != event_dedupe_key({**event, "objectId": 43})
    assert event_dedupe_key(event) != event_dedupe_key(
        {**event, "occurredAt": event["occurredAt"] + 1}
    )
    assert event_dedupe_key(event) == event_dedupe_key(dict(event))


@pytest.fixture
def run_tasks_inline(monkeypatch):
    from pipelines.routing import tasks
    from pipelines.routing.intake import routing_events_process

    monkeypatch.setattr(
        tasks.routing_events_process_task,
        "delay",
        lambda ids: routing_events_process(event_ids=ids),
    )


@pytest.mark.django_db(transaction=True)
class TestReceiver:
    path = "/hooks/hubspot/mql-routing/"

    def test_a_valid_batch_is_stored_answered_and_routed(
        self, client, sandbox, routing, run_tasks_inline
    ):
        contacts = [contact_seed(sandbox, country="US", state="NY") for _ in range(3)]
        response = signed_post(
            client, self.path, [mql_event(c, event_id=n) for n, c in enumerate(contacts)]
        )
        assert response.status_code == 200
        assert response.json() == {"received": 3, "stored": 3}
        assert (
            InboundEvent.objects.filter(source="hubspot", processed_at__isnull=False).count() == 3
        )
        assert RoutingDecision.objects.filter(status="routed").count() == 3

    def test_a_tampered_body_is_refused_with_401_and_nothing_stored(self, client, sandbox, routing):
        body_events = [mql_event("1001")]
        ts = int(time.time() * 1000)
        signature = signature_v3(
            client_secret=SECRET,
            method="POST",
            uri=f"http://testserver{self.path}",
            body=b'[{"eventId": 999}]',
            timestamp_ms=ts,
        )
        response = signed_post(client, self.path, body_events, timestamp_ms=ts, signature=signature)
        assert response.status_code == 401
        assert not InboundEvent.objects.exists()

    def test_a_stale_delivery_is_refused(self, client, sandbox, routing):
        six_minutes_ago = int(time.time() * 1000) - 6 * 60 * 1000
        response = signed_post(client, self.path, [mql_event("1001")], timestamp_ms=six_minutes_ago)
        assert response.status_code == 401
        assert not InboundEvent.objects.exists()

    def test_a_replayed_delivery_is_acknowledged_but_not_processed_twice(
        self, client, sandbox, routing, run_tasks_inline
    ):
        contact = contact_seed(sandbox, country="US")
        events = [mql_event(contact)]
        first = signed_post(client, self.path, events)
        replay = signed_post(client, self.path, events)  # HubSpot's retry, or an attacker's replay
        assert (first.status_code, replay.status_code) == (200, 200)
        assert replay.json()["stored"] == 0
        assert RoutingDecision.objects.count() == 1

    def test_an_unknown_workflow_is_404(self, client, db):
        assert signed_post(client, "/hooks/hubspot/nope/", [mql_event("1")]).status_code == 404

    def test_events_that_are_not_mqls_are_stored_and_skipped(
        self, client, sandbox, routing, run_tasks_inline
    ):
        contact = contact_seed(sandbox, country="US")
        response = signed_post(client, self.path, [mql_event(contact, propertyValue="lead")])
        assert response.status_code == 200
        assert InboundEvent.objects.get().processed_at is not None
        assert not RoutingDecision.objects.exists()
