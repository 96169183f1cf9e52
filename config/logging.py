"""Logging filters: request ids on every line, and redaction of secrets and personal data.

Django's SafeExceptionReporterFilter protects error reports only, not ordinary log records, so
a token passed to a logger (or inside an httpx exception message) would be written in clear.
RedactingFilter rewrites the rendered message and any formatted traceback of every record.
"""

from __future__ import annotations

import logging
import re
from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
# The request being served, so an audit event written deep in a service (a dead-letter
# reprocess, a mapping save, "Route now") still records the IP and user agent it came from.
current_request_var: ContextVar[object | None] = ContextVar("current_request", default=None)

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
    # Email addresses are personal data.
    (re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"), "[EMAIL]"),
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


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not drop the record
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
            # The formatter would render exc_info again, unredacted; keep only the text.
            record.exc_info = None
        return True


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


class ForbiddenOneLineFilter(logging.Filter):
    """A refused request (403) is an expected event, already in the audit log: one line
    ("Forbidden (Permission denied): /path"), never the traceback of the PermissionDenied."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
            record.stack_info = None
        return True
