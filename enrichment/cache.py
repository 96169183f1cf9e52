"""The provider answer cache: one row per (provider, normalized domain), in the database so
it survives restarts and every worker shares it. "Nothing known" is cached as well."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from enrichment.models import ProviderAnswer
from enrichment.sources import SourceOutcome


def cached_answers(*, provider: str, domains: list[str]) -> dict[str, tuple[bool, dict[str, Any]]]:
    """Unexpired answers by domain: ``(found, payload)``."""
    rows = ProviderAnswer.objects.filter(
        provider=provider, domain__in=domains, expires_at__gt=timezone.now()
    ).values_list("domain", "found", "payload")
    return {domain: (found, payload) for domain, found, payload in rows}


def answers_store(*, provider: str, outcome: SourceOutcome, ttl_hours: int) -> int:
    """Keep what the provider said (found or not); failures are not cached."""
    now = timezone.now()
    expires = now + timedelta(hours=ttl_hours)
    rows = [
        ProviderAnswer(
            provider=provider, domain=d, found=True, payload=p, fetched_at=now, expires_at=expires
        )
        for d, p in outcome.found.items()
    ] + [
        ProviderAnswer(
            provider=provider, domain=d, found=False, payload={}, fetched_at=now, expires_at=expires
        )
        for d in outcome.missing
    ]
    if not rows:
        return 0
    ProviderAnswer.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["provider", "domain"],
        update_fields=["found", "payload", "fetched_at", "expires_at"],
        batch_size=500,
    )
    return len(rows)


def answers_purge_expired() -> int:
    """Retention: expired answers are deleted (they may describe people's employers)."""
    deleted, _ = ProviderAnswer.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
