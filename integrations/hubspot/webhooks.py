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

from integrations.inbound import bounded_int

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


def signature_v3_problem(
    *,
    client_secret: str,
    method: str,
    uri: str,
    body: bytes,
    timestamp_ms: int | str | None,
    signature: str | None,
    now: datetime,
) -> str | None:
    """None for a fresh (±5 min) request whose signature matches (compared in constant
    time), else the reason for the 401. A timestamp in epoch *milliseconds* (docs/reference/hubspot.md#webhook-signatures: HubSpot
    uses ms, Slack seconds), read as at most 15 digits: a 400-digit header is "not a
    timestamp", never an OverflowError."""
    if not client_secret:
        return "this connection has no client secret configured"
    if not signature:
        return f"missing {SIGNATURE_HEADER} header"
    if timestamp_ms is None or timestamp_ms == "":
        return f"missing {TIMESTAMP_HEADER} header"
    timestamp = timestamp_ms if isinstance(timestamp_ms, int) else bounded_int(timestamp_ms)
    if timestamp is None:
        return f"{TIMESTAMP_HEADER} is not a millisecond timestamp"
    if abs(int(now.timestamp() * 1000) - timestamp) > MAX_AGE_MS:
        return f"{TIMESTAMP_HEADER} is more than 5 minutes off"
    expected = signature_v3(
        client_secret=client_secret, method=method, uri=uri, body=body, timestamp_ms=timestamp
    )
    if not hmac.compare_digest(expected.encode(), signature.strip().encode("utf-8", "replace")):
        return "the signature does not match the body"
    return None


def signature_v3_valid(**kwargs: Any) -> bool:
    """True only when `signature_v3_problem` finds nothing wrong."""
    return signature_v3_problem(**kwargs) is None


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
