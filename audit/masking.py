"""Masking secrets and personal data before anything reaches the audit log.

Two rules, applied by key name and by value:

- A secret (token, password, key, credential...) never appears, not even in part: a diff says
  only that it changed. `mask_secret` (last four characters) is for *displaying a stored
  credential* to its owner in the admin, never for the log.
- Personal data (email, phone, names) is replaced by a keyed hash, so an auditor can still
  see that two events concern the same person without the log holding who it is. Email
  addresses found inside any other string are hashed in place too (last line of defence).

The hash is an HMAC, not a bare SHA-256: an unkeyed hash of an email is reversible by trying
a list of likely addresses. The key must stay stable, because the suppression list of erased
people is looked up by this hash (see docs/security.md).
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import hmac
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings

from config.redaction import EMAIL_RE, redact

MASK = "••••"
SECRET_CHANGED = "•••• (changed)"  # noqa: S105 - the placeholder shown instead of a secret
HASH_PREFIX = "hash:"

_SECRET_WORDS = {
    "token",
    "secret",
    "password",
    "passwd",
    "pwd",
    "key",
    "apikey",
    "credential",
    "credentials",
    "authorization",
    "auth_header",
    "signature",
    "cookie",
    "sessionid",
}
# Keys that contain "key" but name a field, not a secret; masking them would hide real
# configuration changes (a workflow's match key) from the auditor for no benefit.
_NOT_SECRET = {
    "match_key",
    "dedupe_key",
    "idempotency_key",
    "sort_key",
    "primary_key",
    "key_id",
    "routing_key",
    "natural_key",
    "secret_hints",
    "has_token",
}
_PERSONAL_WORDS = {"email", "phone", "mobile", "firstname", "lastname", "fullname", "surname"}
_PERSONAL_KEYS = {
    "first_name",
    "last_name",
    "full_name",
    "given_name",
    "family_name",
    "contact_name",
    "person_name",
    "middle_name",
}
# Bare "name" is deliberately not personal: connections, workflows and schedules are named
# by it, and those names are what an auditor traces a change by. A person's name reaches
# the log under first_name/last_name/full_name, which are masked.

_WORD_SPLIT = re.compile(r"[^a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _hash_key() -> bytes:
    dedicated = getattr(settings, "AUDIT_HASH_KEY", "") or ""
    if dedicated:
        return dedicated.encode()
    # Derived, so that a leak of the hash key alone does not reveal SECRET_KEY.
    return hashlib.sha256(b"switchyard.audit.email-hash:" + settings.SECRET_KEY.encode()).digest()


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def hash_email(email: str) -> str:
    """HMAC-SHA256 (hex) of the normalized address: stable across case and whitespace."""
    return hmac.new(_hash_key(), normalize_email(email).encode(), hashlib.sha256).hexdigest()


def hash_personal(value: Any) -> str | None:
    """A short keyed hash for a personal value in a diff; None stays None."""
    if value is None or value == "":
        return value
    text = str(value)
    if text.startswith(HASH_PREFIX):
        return text
    return HASH_PREFIX + hash_email(text)[:16]


def mask_secret(value: Any) -> str:
    """For showing a stored credential: bullets plus the last four characters.

    Values shorter than 12 characters show bullets only: four of eight characters is most of
    a secret.
    """
    if value is None or value == "":
        return ""
    text = str(value)
    return MASK + text[-4:] if len(text) >= 12 else MASK


def _words(key: str) -> list[str]:
    return [w for w in _WORD_SPLIT.split(_CAMEL.sub("_", key).lower()) if w]


def key_is_secret(key: str) -> bool:
    lowered = _CAMEL.sub("_", str(key)).lower()
    if lowered in _NOT_SECRET or "hash" in _words(lowered):
        return False
    words = _words(lowered)
    return any(w in _SECRET_WORDS for w in words) or any(
        w.endswith(("token", "secret", "password")) for w in words
    )


def key_is_personal(key: str) -> bool:
    lowered = _CAMEL.sub("_", str(key)).lower()
    words = _words(lowered)
    if "hash" in words or "hashes" in words:
        return False  # already a hash (the privacy events' email_hash)
    return lowered in _PERSONAL_KEYS or any(
        w in _PERSONAL_WORDS or w.startswith("email") for w in words
    )


def scrub_text(text: str) -> str:
    """Replace every email address inside free text with its hash."""
    if "@" not in text:
        return text
    return EMAIL_RE.sub(lambda m: f"email:{hash_personal(m.group(0))}", text)


def json_safe(value: Any) -> Any:
    """Plain JSON types only, so the stored value is exactly the hashed value."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return (
            value if value == value and value not in (float("inf"), float("-inf")) else str(value)
        )
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [json_safe(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID, dt.timedelta)):
        return str(value)
    if hasattr(value, "pk"):
        return value.pk
    return str(value)


def _mask_secret_value(value: Any) -> Any:
    if value is None or value == "":
        return value
    if isinstance(value, list):
        return [_mask_secret_value(v) for v in value]
    if isinstance(value, str) and value.startswith(MASK):
        return value  # already masked by the caller
    return MASK


def _hash_personal_value(value: Any) -> Any:
    if isinstance(value, list):
        return [_hash_personal_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _hash_personal_value(v) for k, v in value.items()}
    return hash_personal(value)


def mask_structure(value: Any) -> Any:
    """Walk JSON-safe data: mask by key name, hash emails inside strings."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key_is_secret(key):
                out[key] = _mask_secret_value(item)
            elif key_is_personal(key):
                out[key] = _hash_personal_value(item)
            else:
                out[key] = mask_structure(item)
        return out
    if isinstance(value, list):
        return [mask_structure(v) for v in value]
    if isinstance(value, str):
        # Emails become hashes first (redact would turn them into an anonymous [EMAIL]);
        # then the log redactor catches token shapes and credentials known to this process.
        return redact(scrub_text(value))
    return value


def changes_diff(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    *,
    secret_fields: Iterable[str] = (),
    personal_fields: Iterable[str] = (),
) -> dict[str, list[Any]]:
    """`{field: [old, new]}` for the fields that differ, secrets and personal data masked.

    A secret becomes `["••••", "•••• (changed)"]` (None where unset): the log proves the
    credential changed and who changed it, and holds no character of it.
    """
    secrets, personal = set(secret_fields), set(personal_fields)
    diff: dict[str, list[Any]] = {}
    for key in sorted(set(before) | set(after), key=str):
        old, new = json_safe(before.get(key)), json_safe(after.get(key))
        if old == new:
            continue
        if key in secrets or key_is_secret(key):
            diff[key] = [
                MASK if old not in (None, "") else None,
                SECRET_CHANGED if new not in (None, "") else None,
            ]
        elif key in personal or key_is_personal(key):
            diff[key] = [_hash_personal_value(old), _hash_personal_value(new)]
        else:
            diff[key] = [mask_structure(old), mask_structure(new)]
    return diff


STORED_STRING_MAX = 500  # characters of any one string kept in an event's metadata or diff


def cap_strings(value: Any, limit: int = STORED_STRING_MAX) -> Any:
    """Cut every string in JSON-safe data to `limit` characters, saying how long it was: a
    refused 5 MB one-line file once stored a 76,547-character reason in a 365-day log."""
    if isinstance(value, str):
        return value if len(value) <= limit else f"{value[:limit]}… ({len(value)} characters)"
    if isinstance(value, dict):
        return {cap_strings(k, limit): cap_strings(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [cap_strings(v, limit) for v in value]
    return value
