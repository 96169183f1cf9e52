"""Logging filters: request ids on every line, and redaction of secrets and personal data
(the patterns are in config/redaction.py).

Django's SafeExceptionReporterFilter protects error reports only, not ordinary log records, so
a token passed to a logger (or inside an httpx exception message) would be written in clear.
RedactingFilter rewrites the rendered message and any formatted traceback of every record.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

from config.redaction import MASK, redact, register_secret

__all__ = ["MASK", "RedactingFilter", "redact", "register_secret", "request_id_var"]

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")


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


class ErrorMailHandler(logging.Handler):
    """Error emails to ADMINS (ALERT_EMAILS): opt-in (ERROR_EMAILS), rate-limited, redacted.

    Replaces Django's AdminEmailHandler, which renders its own report from the live exception
    (frames, request) and so bypasses RedactingFilter: a malformed warehouse DSN once mailed its
    password. This one sends only the record as the redacting filter left it (message and
    traceback text), at most ERROR_EMAILS_PER_HOUR mails an hour; the rest are only logged.
    """

    def emit(self, record: logging.LogRecord) -> None:
        from django.conf import settings

        if not getattr(settings, "ERROR_EMAILS", False) or not settings.ADMINS:
            return
        try:
            if not _error_mail_allowed(int(getattr(settings, "ERROR_EMAILS_PER_HOUR", 10))):
                return
            from django.core.mail import mail_admins

            text = redact(self.format(record))
            subject = redact(record.getMessage()).splitlines()[0][:120] if record.msg else "error"
            mail_admins(f"{record.levelname}: {subject}", text, fail_silently=True)
        except Exception:  # noqa: BLE001 - a failing mail must never fail the request it reports
            self.handleError(record)


def _error_mail_allowed(per_hour: int) -> bool:
    """One shared counter per clock hour (the cache: Redis in production)."""
    import time

    from django.core.cache import cache

    key = f"switchyard:error-mail:{int(time.time() // 3600)}"
    cache.add(key, 0, timeout=3700)
    try:
        return cache.incr(key) <= per_hour
    except ValueError:  # the key expired between add and incr
        return False
