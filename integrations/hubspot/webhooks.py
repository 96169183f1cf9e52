"""HubSpot webhook deliveries: the v3 signature and the idempotency key of an event.

Pure functions (no Django, no I/O) so they can be tested against the reference's vectors.
Facts from docs/reference/hubspot.md#webhook-signatures and #webhook-payloads.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any

# docs/reference/hubspot.md#webhook-signatures step 1: "Reject the request if the timestamp is older than 5 minutes". We also refuse
# timestamps that far in the future: a clock that wrong is no better than a replay.
MAX_AGE_MS = 5 * 60 * 1000

# docs/reference/hubspot.md#webhook-signatures step 2: only these percent-escapes are decoded before signing; any other escape stays.
_DECODED_ESCAPES = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}

SIGNATURE_HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"


def signature_uri(uri: str) -> str:
    """The request URI as HubSpot signed it: the listed escapes decoded, case-insensitively."""
    out, i = [], 0
    while i < len(uri):
        chunk = uri[i : i + 3].upper()
        if uri[i] == "%" and chunk in _DECODED_ESCAPES:
            out.append(_DECODED_ESCAPES[chunk])
            i += 3
        else:
            out.append(uri[i])
            i += 1
    return "".join(out)


def signature_v3(
    *, client_secret: str, method: str, uri: str, body: bytes, timestamp_ms: int | str
) -> str:
    """base64(HMAC-SHA256(secret, method + uri + body + timestamp)), docs/reference/hubspot.md#webhook-signatures steps 3-5.

    The body is hashed as the raw bytes received: re-encoding breaks non-ASCII bodies (docs/reference/hubspot.md#webhook-signatures,
    "two known pitfalls").
    """
    message = (method.upper() + signature_uri(uri)).encode() + body + str(timestamp_ms).encode()
    digest = hmac.new(client_secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signature_v3_valid(
    *,
    client_secret: str,
    method: str,
    uri: str,
    body: bytes,
    timestamp_ms: int | str | None,
    signature: str | None,
    now: datetime,
) -> bool:
    """True only for a fresh (±5 min) request whose signature matches, compared in constant
    time. A timestamp in epoch *milliseconds* (docs/reference/hubspot.md#webhook-signatures: HubSpot uses ms, Slack seconds)."""
    if not client_secret or not signature or timestamp_ms is None:
        return False
    try:
        timestamp = int(timestamp_ms)
    except (TypeError, ValueError):
        return False
    if abs(now.timestamp() * 1000 - timestamp) > MAX_AGE_MS:
        return False
    expected = signature_v3(
        client_secret=client_secret, method=method, uri=uri, body=body, timestamp_ms=timestamp
    )
    return hmac.compare_digest(expected.encode(), signature.strip().encode())


def event_dedupe_key(event: dict[str, Any]) -> str:
    """The idempotency key of one event. docs/reference/hubspot.md#webhook-payloads: "eventId is not guaranteed to be unique", so
    the key is (subscriptionId, eventId, objectId, occurredAt, propertyName)."""
    parts = (
        event.get("subscriptionId"),
        event.get("eventId"),
        event.get("objectId"),
        event.get("occurredAt"),
        event.get("propertyName"),
    )
    return "hubspot:" + ":".join("" if part is None else str(part) for part in parts)
