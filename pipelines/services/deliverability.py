"""Optional MX check of an email's domain (Workflow.mx_check, off by default).

email-validator's check_deliverability does the DNS lookup with dnspython. It costs a network
round trip per domain (tens of ms, seconds on a timeout), so results are cached per domain in
Django's cache for a day, and the check is off unless a workflow asks for it.
"""

from __future__ import annotations

import hashlib

from django.core.cache import cache
from email_validator import EmailNotValidError, EmailUndeliverableError, validate_email

CACHE_SECONDS = 24 * 60 * 60


def email_domain_accepts_mail(*, domain: str) -> bool:
    """True when the domain has an MX (or fallback A/AAAA) record. A DNS timeout counts as
    deliverable: a flaky resolver must not dead-letter a whole import."""
    key = "pipelines:mx:" + hashlib.sha256(domain.lower().encode()).hexdigest()
    cached = cache.get(key)
    if cached is not None:
        return bool(cached)
    try:
        validate_email(f"postmaster@{domain}", check_deliverability=True, timeout=5)
        verdict = True
    except EmailUndeliverableError:
        verdict = False
    except EmailNotValidError:
        verdict = False
    except Exception:  # noqa: BLE001 - resolver failures: do not cache, do not reject
        return True
    cache.set(key, verdict, CACHE_SECONDS)
    return verdict
