"""People and roles from the browser: an Administrator invites a user with a role (they set
their own password from a one-time link) and changes roles. Audited with who, from where."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from audit.roles import ROLE_PERMISSIONS
from audit.services import audit_event_record


class TeamError(ValueError):
    pass


def user_role(*, user: Any) -> str:
    names = [g.name for g in user.groups.all() if g.name in ROLE_PERMISSIONS]
    return names[0] if names else ""


def _role_group(role: str) -> Group:
    if role not in ROLE_PERMISSIONS:
        raise TeamError(f"unknown role {role!r}")
    return Group.objects.get(name=role)


def user_invite(*, username: str, email: str, role: str, actor: Any) -> tuple[Any, str]:
    """A staff account with the role and no usable password, and the one-time path where the
    person sets it (valid PASSWORD_RESET_TIMEOUT, three days by default)."""
    User = get_user_model()  # noqa: N806 - the conventional name of the user model class
    username = username.strip()
    if User.objects.filter(username__iexact=username).exists():
        raise TeamError(f"{username} already has an account")
    group = _role_group(role)
    with transaction.atomic():
        user = User(username=username, email=email.strip(), is_staff=True)
        user.set_unusable_password()
        user.save()
        user.groups.add(group)
        audit_event_record(
            action="user.invited",
            actor=actor,
            obj=user,
            metadata={"username": username, "role": role},
        )
    return user, user_password_link(user=user)


def user_password_link(*, user: Any) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return reverse("password_reset_confirm", args=[uid, default_token_generator.make_token(user)])


def user_role_set(*, user: Any, role: str, actor: Any) -> None:
    """Replace the user's role. Nobody changes their own (a slip would lock them out), and a
    superuser's account is changed only in a shell."""
    if user.pk == getattr(actor, "pk", None):
        raise TeamError("you cannot change your own role; ask another Administrator")
    if user.is_superuser:
        raise TeamError(f"{user.get_username()} is a superuser; change it from a shell")
    group = _role_group(role)
    before = user_role(user=user)
    if before == role:
        return
    with transaction.atomic():
        user.groups.remove(*Group.objects.filter(name__in=list(ROLE_PERMISSIONS)))
        user.groups.add(group)
        audit_event_record(
            action="user.role_changed",
            actor=actor,
            obj=user,
            changes={"role": [before or None, role]},
        )
