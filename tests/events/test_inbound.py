"""Events in: signed HubSpot batches, Standard Webhooks senders (with key rotation) and Clay
rows are stored first, answered 2xx, deduplicated; anything unverifiable is refused."""

from __future__ import annotations

import base64
import json
import time

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from events.models import Event
from integrations import standard_webhooks
from integrations.hubspot.webhooks import signature_v3
from integrations.models import AuthType, Provider
from tests.events.conftest import HUBSPOT_CLIENT_SECRET, deal_stage_event
from tests.integrations.factories import ConnectionFactory

pytestmark = pytest.mark.django_db

OLD_KEY = "whsec_" + base64.b64encode(b"old-sender-key-0123456789abcdef").decode()
NEW_KEY = "whsec_" + base64.b64encode(b"new-sender-key-0123456789abcdef").decode()


@pytest.fixture
def hubspot_source(db):
    return ConnectionFactory(name="hubspot-main", client_secret=HUBSPOT_CLIENT_SECRET)


def post_hubspot(client, body: bytes, *, secret: str = HUBSPOT_CLIENT_SECRET, age_ms: int = 0):
    url = "http://testserver/hooks/events/hubspot/hubspot-main/"
    stamp = int(timezone.now().timestamp() * 1000) - age_ms
    signature = signature_v3(
        client_secret=secret, method="POST", uri=url, body=body, timestamp_ms=stamp
    )
    return client.post(
        url,
        data=body,
        content_type="application/json",
        headers={"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": str(stamp)},
    )


def test_a_signed_hubspot_batch_is_stored_and_a_retry_is_acknowledged_once(client, hubspot_source):
    body = json.dumps([deal_stage_event(deal_id="42", stage="closedwon")]).encode()

    first = post_hubspot(client, body)
    retry = post_hubspot(client, body)

    assert first.status_code == 202
    assert first.json()["stored"] == 1
    assert retry.status_code == 200
    assert retry.json() == {"received": 1, "stored": 0, "duplicates": 1, "events": []}
    event = Event.objects.get()
    assert (event.type, event.object_type, event.object_id) == ("deal.propertyChange", "deal", "42")
    assert (event.property_name, event.property_value) == ("dealstage", "closedwon")


@pytest.mark.parametrize(
    ("secret", "age_ms"),
    [("wrong-secret", 0), (HUBSPOT_CLIENT_SECRET, 6 * 60 * 1000)],
    ids=["wrong-secret", "stale-timestamp"],
)
def test_an_unverifiable_hubspot_request_is_refused_and_audited(
    client, hubspot_source, secret, age_ms
):
    body = json.dumps([deal_stage_event(deal_id="42", stage="closedwon")]).encode()
    response = post_hubspot(client, body, secret=secret, age_ms=age_ms)
    assert response.status_code == 401
    assert not Event.objects.exists()
    assert AuditEvent.objects.filter(action="webhook.rejected").count() == 1


def test_a_hubspot_body_that_is_not_a_batch_of_events_is_a_400(client, hubspot_source):
    response = post_hubspot(client, b'[{"objectId": 1}]')
    assert response.status_code == 400
    assert "subscriptionType" in response.json()["error"]
    assert not Event.objects.exists()


def test_wrong_content_type_is_415_and_unknown_source_404(client, hubspot_source):
    assert (
        client.post(
            "/hooks/events/hubspot/hubspot-main/", data="x", content_type="text/plain"
        ).status_code
        == 415
    )
    assert (
        client.post(
            "/hooks/events/hubspot/nobody/", data="[]", content_type="application/json"
        ).status_code
        == 404
    )


@pytest.fixture
def billing_source(db):
    """A generic sender rotating its key: both secrets active, one per line."""
    return ConnectionFactory(
        name="billing",
        provider=Provider.HTTP,
        auth_type=AuthType.HMAC_SHA256,
        token=f"{NEW_KEY}\n{OLD_KEY}",
    )


def post_standard(client, body: bytes, *, secrets, message_id="msg_1", stamp=None, headers=None):
    stamp = int(time.time()) if stamp is None else stamp
    signed = standard_webhooks.sign_headers(
        secrets=secrets, message_id=message_id, timestamp=stamp, body=body
    )
    return client.post(
        "/hooks/events/standard/billing/",
        data=body,
        content_type="application/json",
        headers={**signed, **(headers or {})},
    )


BODY = json.dumps(
    {
        "type": "invoice.paid",
        "timestamp": "2026-12-01T10:00:00Z",
        "data": {"id": "in_1", "amount": 5},
    }
).encode()


@pytest.mark.parametrize("secrets", [[OLD_KEY], [NEW_KEY], [NEW_KEY, OLD_KEY]])
def test_a_standard_webhook_signed_with_either_active_key_is_accepted(
    client, billing_source, secrets
):
    response = post_standard(client, BODY, secrets=secrets)
    assert response.status_code == 202
    event = Event.objects.get()
    assert (event.type, event.object_type, event.object_id) == ("invoice.paid", "invoice", "in_1")
    assert event.source_event_id == "msg_1"


def test_the_same_webhook_id_is_stored_once(client, billing_source):
    post_standard(client, BODY, secrets=[NEW_KEY])
    again = post_standard(client, BODY, secrets=[NEW_KEY])
    assert again.json()["duplicates"] == 1
    assert Event.objects.count() == 1


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"webhook-timestamp": "9" * 40}, "not an integer"),
        ({"webhook-timestamp": "-5"}, "not an integer"),
        ({"webhook-timestamp": "1.5e9"}, "not an integer"),
        ({"webhook-timestamp": str(int(time.time()) - 301)}, "5 minutes"),
        ({"webhook-signature": "v1,AAAA"}, "no signature matches"),
        ({"webhook-id": ""}, "missing webhook-id"),
    ],
)
def test_a_bad_standard_webhook_is_401_naming_why(client, billing_source, headers, reason):
    response = post_standard(client, BODY, secrets=[NEW_KEY], headers=headers)
    assert response.status_code == 401
    assert reason in response.json()["error"]
    assert not Event.objects.exists()


def test_a_key_that_was_rotated_out_no_longer_verifies(client, billing_source):
    retired = "whsec_" + base64.b64encode(b"retired-key-0123456789abcdefgh").decode()
    assert post_standard(client, BODY, secrets=[retired]).status_code == 401


def test_clay_rows_feed_the_hub_and_a_resend_is_ignored(client, db):
    ConnectionFactory(
        name="clay-leads",
        provider=Provider.CLAY,
        auth_type=AuthType.HEADER_TOKEN,
        token="clay-inbound-secret",
        options={"object_type": "contact", "id_field": "email"},
    )
    rows = json.dumps([{"email": "ada@acme.test", "score": 91}, {"email": "bo@acme.test"}])
    headers = {"X-Switchyard-Token": "clay-inbound-secret"}
    url = "/hooks/events/clay/clay-leads/"

    first = client.post(url, data=rows, content_type="application/json", headers=headers)
    resend = client.post(url, data=rows, content_type="application/json", headers=headers)
    wrong = client.post(
        url, data=rows, content_type="application/json", headers={"X-Switchyard-Token": "nope"}
    )

    assert first.json()["stored"] == 2
    assert resend.json()["duplicates"] == 2
    assert wrong.status_code == 401
    assert sorted(Event.objects.values_list("object_id", flat=True)) == [
        "ada@acme.test",
        "bo@acme.test",
    ]
