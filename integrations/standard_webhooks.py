"""Standard Webhooks (v1, symmetric): sign what we send, verify what we receive.

Pure functions, no Django. Facts in docs/events.md ("Standard Webhooks"): headers
``webhook-id``, ``webhook-timestamp`` (integer Unix seconds), ``webhook-signature``
(space-separated ``v1,<base64>`` entries, one per active secret during a rotation); the
signed content is ``{id}.{timestamp}.{raw body}``; HMAC-SHA256 keyed with the base64 bytes
after ``whsec_``; ±5 minutes tolerance; constant-time comparison.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Mapping

TOLERANCE_SECONDS = 300
# A Unix timestamp in seconds has 10 digits until the year 2286. Anything longer (or signed,
# or fractional) is refused before int() so a 10-megabyte digit string costs nothing.
MAX_TIMESTAMP_DIGITS = 11
MAX_ID_LENGTH = 200


class SignatureInvalid(ValueError):
    """The request is not verifiably from the sender; the message names the reason."""


def secret_key(secret: str) -> bytes:
    """``whsec_<base64>`` → the key bytes; other strings are used as UTF-8 bytes."""
    raw = secret.strip()
    if raw.startswith("whsec_"):
        try:
            return base64.b64decode(raw[6:], validate=True)
        except (binascii.Error, ValueError):
            pass
    return raw.encode()


def signature(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` entry."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def sign_headers(
    *, secrets: Iterable[str], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three headers, signed with every active secret (rotation: newest and previous)."""
    entries = [
        signature(secret=s, message_id=message_id, timestamp=timestamp, body=body)
        for s in secrets
        if s.strip()
    ]
    if not entries:
        raise ValueError("no signing secret configured")
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(entries),
    }


def timestamp_parse(value: str) -> int:
    """A bounded non-negative integer of Unix seconds, or SignatureInvalid."""
    text = (value or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > MAX_TIMESTAMP_DIGITS:
        raise SignatureInvalid("webhook-timestamp is not an integer number of seconds")
    return int(text)


def verify(*, secrets: Iterable[str], headers: Mapping[str, str], body: bytes, now: float) -> str:
    """Return the ``webhook-id`` of a fresh, correctly signed request; else SignatureInvalid.
    Every (given, expected) pair is compared, so timing does not say which one was close."""
    message_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    given = headers.get("webhook-signature", "")
    missing = [
        n
        for n, v in (
            ("webhook-id", message_id),
            ("webhook-timestamp", stamp),
            ("webhook-signature", given),
        )
        if not v
    ]
    if missing:
        raise SignatureInvalid(f"missing {', '.join(missing)} header")
    if len(message_id) > MAX_ID_LENGTH or "." in message_id:
        raise SignatureInvalid("webhook-id is too long or contains a full stop")
    timestamp = timestamp_parse(stamp)
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise SignatureInvalid("webhook-timestamp is more than 5 minutes away from our clock")
    expected = [
        signature(secret=s, message_id=message_id, timestamp=timestamp, body=body)
        for s in secrets
        if s.strip()
    ]
    if not expected:
        raise SignatureInvalid("no secret configured for this sender")
    offered = [part for part in given.split() if part.startswith("v1,")]
    matched = False
    for candidate in offered:
        for wanted in expected:
            matched |= hmac.compare_digest(candidate.encode(), wanted.encode())
    if not matched:
        raise SignatureInvalid("no signature matches the body")
    return message_id
