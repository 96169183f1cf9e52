"""Test connection: one cheap authenticated call, and a verdict a RevOps admin can act on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.services import audit_event_record
from integrations.errors import (
    AuthFailed,
    MissingScope,
    ProviderError,
    RateLimited,
    TimedOut,
    Unreachable,
)
from integrations.models import Connection


@dataclass(frozen=True)
class Verdict:
    ok: bool
    code: str
    message: str


def _verdict_for(error: ProviderError) -> Verdict:
    if isinstance(error, AuthFailed):
        return Verdict(
            False, "invalid_token", "invalid token (401): the provider rejected the credential"
        )
    if isinstance(error, MissingScope):
        scope = f" — grant the scope {error.scope}" if getattr(error, "scope", None) else ""
        return Verdict(False, "missing_scope", f"missing scope (403){scope}")
    if isinstance(error, TimedOut):
        return Verdict(False, "timeout", "timeout: the provider did not answer in time")
    if isinstance(error, Unreachable):
        return Verdict(False, "unreachable", "unreachable host: could not connect to the provider")
    if isinstance(error, RateLimited):
        return Verdict(
            False, "rate_limited", "rate limited: the credential works but the quota is spent"
        )
    return Verdict(False, "error", f"failed: {error.message}")


def connection_test(
    *, connection_id: int, actor: Any = None, actor_label: str = "", request: Any = None
) -> Verdict:
    from integrations.registry import client_for

    connection = Connection.objects.get(pk=connection_id)
    try:
        client = client_for(connection)
        try:
            # Every client answers one of these; BuiltWith's cheapest authenticated call is
            # its whoami, the others' is ping (docs/connections.md).
            probe = getattr(client, "ping", None) or getattr(client, "whoami", None)
            if probe is None:
                raise ValueError(f"{connection.provider} connections have no test call")
            probe()
        finally:
            getattr(client, "close", lambda: None)()
    except ProviderError as error:
        verdict = _verdict_for(error)
    except ValidationError as error:  # the base URL no longer passes the outbound-address check
        verdict = Verdict(False, "unsafe_url", f"refused: {'; '.join(error.messages)}")
    except ValueError as error:  # a provider without an outbound client (inbound-only Clay)
        verdict = Verdict(False, "not_testable", str(error))
    else:
        verdict = Verdict(True, "ok", "OK")
    Connection.objects.filter(pk=connection.pk).update(
        last_tested_at=timezone.now(), last_test_verdict=verdict.message[:300]
    )
    audit_event_record(
        action="connection.tested",
        actor=actor,
        actor_label=actor_label,
        obj=connection,
        metadata={"verdict": verdict.code},
        request=request,
    )
    return verdict
