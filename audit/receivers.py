"""Authentication events into the audit log: logins, logouts, failed logins, lockouts.

Built on Django's auth signals (as Read the Docs' security log is). The failed-login signal
gets credentials already scrubbed by Django; we take only the username from them, never
anything else, so no password can reach the log even if a form names its field oddly.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

from audit.masking import HASH_PREFIX, hash_personal
from audit.services import audit_event_record

USERNAME_KEYS = ("username", "email", "login")


def _attempted_username(credentials: dict[str, Any] | None) -> str:
    for key in USERNAME_KEYS:
        value = (credentials or {}).get(key)
        if isinstance(value, str) and value:
            return value[:150]
    return ""


def on_login(sender, request, user, **kwargs) -> None:
    audit_event_record(action="auth.login", actor=user, obj=user, request=request)


def on_logout(sender, request, user, **kwargs) -> None:
    # user is None when the session had already expired; the event still marks the logout.
    audit_event_record(
        action="auth.logout",
        actor=user,
        obj=user if user is not None and user.pk else None,
        actor_label="" if user is not None else "anonymous",
        request=request,
    )


def _username_shown(username: str) -> str:
    """A username that names an account is kept (an auditor follows attacks on it); anything
    else is hashed: people type passwords into the username box, and the log keeps a year."""
    from django.contrib.auth import get_user_model

    if not username:
        return ""
    model = get_user_model()
    if model._default_manager.filter(**{model.USERNAME_FIELD: username}).exists():
        return username
    return "unknown:" + hash_personal(username).removeprefix(HASH_PREFIX)


def on_login_failed(sender, credentials, request=None, **kwargs) -> None:
    from audit.aggregate import audit_unauthenticated_record

    username = _username_shown(_attempted_username(credentials))
    # Aggregated per client address and username (audit/aggregate.py): a password-guessing
    # loop writes one event and a count, not one event per guess.
    audit_unauthenticated_record(
        action="auth.login_failed",
        source=f"username:{username}",
        actor_label=username or "anonymous",
        request=request,
        metadata={
            "username": username,
            "locked_out": bool(getattr(request, "axes_locked_out", False)),
        },
    )


def on_locked_out(sender, request=None, username=None, ip_address=None, **kwargs) -> None:
    audit_event_record(
        action="auth.locked_out",
        actor_label=(username or "anonymous")[:150],
        request=request,
        metadata={"username": username or "", "ip_address": ip_address or ""},
    )


def receivers_connect() -> None:
    from axes.signals import user_locked_out

    user_logged_in.connect(on_login, dispatch_uid="audit.login")
    user_logged_out.connect(on_logout, dispatch_uid="audit.logout")
    user_login_failed.connect(on_login_failed, dispatch_uid="audit.login_failed")
    user_locked_out.connect(on_locked_out, dispatch_uid="audit.locked_out")
