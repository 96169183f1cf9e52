"""Redaction: the one place that knows what a secret or an e-mail address looks like.

Used by the log filter (config.logging), audit diffs (audit.masking) and provider error
messages (integrations.errors), so a pattern fixed here is fixed everywhere.
"""

from __future__ import annotations

import re

# An e-mail address in free text (logs, error messages, audit metadata).
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
EMAIL_MASK = "[EMAIL]"

MASK = "[REDACTED]"

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Authorization: Bearer xyz / Basic xyz, as a header line or a dict repr.
    (
        re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(bearer|basic|token)?\s*[^\s'\",}]+"),
        rf"\1{MASK}",
    ),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9\-._~+/=]+"), f"Bearer {MASK}"),
    # key=value / "key": "value" for anything that names a secret.
    (
        re.compile(
            r"(?i)((?:access_token|refresh_token|client_secret|api[_-]?key|apikey|x-api-key|token|secret|"
            r"password|passwd|signature|\bkey)['\"]?\s*[:=]\s*['\"]?)([^\s'\"&,}]+)"
        ),
        rf"\1{MASK}",
    ),
    # Provider token shapes, wherever they appear.
    (re.compile(r"\bpat-[a-z]{2,4}\d?-[0-9a-f-]{8,}"), MASK),  # HubSpot private-app token
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{8,}"), MASK),  # Slack tokens
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=]{8,}"), MASK),  # webhook signing secrets
    (
        re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/]+"),
        "https://hooks.slack.com/services/" + MASK,
    ),
    # Credentials inside a URL's user information: postgres://user:secret@host.
    (re.compile(r"(://[^:/@\s]+:)[^@\s/]+@"), rf"\1{MASK}@"),
    # Email addresses are personal data.
    (EMAIL_RE, EMAIL_MASK),
]

# Exact secret values known to this process (decrypted credentials). Redacted wherever they
# appear, whatever their shape. Bounded so a long-lived worker cannot grow it without limit.
_known_secrets: set[str] = set()
_KNOWN_SECRETS_MAX = 10_000


def register_secret(value: str | None) -> None:
    """Make every later log record redact this exact value (used for decrypted credentials)."""
    if value and len(value) >= 6 and len(_known_secrets) < _KNOWN_SECRETS_MAX:
        _known_secrets.add(value)


def redact(text: str) -> str:
    for secret in _known_secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_emails(text: str) -> str:
    return EMAIL_RE.sub(EMAIL_MASK, text)
