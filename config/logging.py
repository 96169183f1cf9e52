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
