"""Connections as code: the `connections:` section of `manage.py config export|apply`.

Secrets in a config file are `${ENV_VAR}` references, resolved when applied and stored
encrypted; the reference's name is remembered (options.secret_refs) so export can print the
reference again, never the value.
"""

from __future__ import annotations

from typing import Annotated, Any

from django.core.exceptions import ValidationError
from pydantic import AfterValidator, Field, TypeAdapter

from integrations.base_url import base_url_validate
from integrations.config_schema import (
    ENV_REF,
    ConfigError,
    ConfigModel,
    ConfigPathError,
    EnvRef,
    Name,
    choice,
    config_problem,
    env_ref_name,
    env_ref_resolve,
)
from integrations.models import AuthType, Connection, Environment, Provider

__all__ = ["ENV_REF", "ConfigError", "connections_apply", "connections_export"]

# auth keys that hold a secret, and the encrypted column each goes to
_SECRET_KEYS = {
    "token": "token",
    "secret": "token",
    "api_key": "token",
    "url": "token",
    "dsn": "token",
    "client_secret": "client_secret",
}
_PLAIN_AUTH_KEYS = ("client_id", "scopes", "header", "username")


def _base_url_check(value: str) -> str:
    if value:
        try:
            base_url_validate(value)
        except ValidationError as exc:
            raise config_problem(" ".join(exc.messages)) from None
    return value


class Auth(ConfigModel):
    type: Annotated[str, choice(AuthType.values)] = AuthType.NONE
    client_id: str | None = None
    scopes: str | list[str] | None = None
    header: str | None = None
    username: str | None = None
    token: EnvRef | None = None
    secret: EnvRef | None = None
    api_key: EnvRef | None = None
    url: EnvRef | None = None
    dsn: EnvRef | None = None
    client_secret: EnvRef | None = None


class RateLimit(ConfigModel):
    requests: int = Field(gt=0)
    per_seconds: int = Field(gt=0)


class Timeouts(ConfigModel):
    # seconds; a read longer than ten minutes is a hung server, not a slow one
    connect: float | None = Field(default=None, gt=0, le=600)
    read: float | None = Field(default=None, gt=0, le=600)


class ConnectionItem(ConfigModel):
    name: Name
    provider: Annotated[str, choice(Provider.values)]
    environment: Annotated[str, choice(Environment.values)] = Environment.PRODUCTION
    base_url: Annotated[str, AfterValidator(_base_url_check)] = ""
    auth: Auth | None = None
    rate_limit: RateLimit | None = None
    timeouts: Timeouts | None = None
    # PositiveSmallIntegerField; more than 20 attempts only delays the dead letter
    max_attempts: int | None = Field(default=None, ge=1, le=20)
    options: dict[str, Any] | None = None


CONNECTIONS = TypeAdapter(list[ConnectionItem])


def connections_plan(items: list[ConnectionItem]) -> list[dict]:
    """Normalized plans (secrets resolved from the environment). Writes nothing."""
    plans, seen = [], set()
    for index, item in enumerate(items):
        if item.name in seen:
            raise ConfigPathError((index, "name"), f"connection {item.name!r} appears twice")
        seen.add(item.name)
        auth = item.auth or Auth()
        options = dict(item.options or {})
        secrets, refs = {}, {}
        for key, column in _SECRET_KEYS.items():
            reference = getattr(auth, key)
            if reference is not None:
                secrets[column] = env_ref_resolve(reference)
                refs[key] = env_ref_name(reference)
        for key in _PLAIN_AUTH_KEYS:
            if getattr(auth, key) is not None:
                options[key] = getattr(auth, key)
        if refs:
            options["secret_refs"] = refs
        fields: dict[str, Any] = {
            "provider": item.provider,
            "environment": item.environment,
            "auth_type": auth.type,
            "base_url": item.base_url,
            "options": options,
        }
        if item.rate_limit is not None:
            fields["rate_limit_requests"] = item.rate_limit.requests
            fields["rate_limit_seconds"] = item.rate_limit.per_seconds
        if item.timeouts is not None and item.timeouts.connect is not None:
            fields["connect_timeout"] = item.timeouts.connect
        if item.timeouts is not None and item.timeouts.read is not None:
            fields["read_timeout"] = item.timeouts.read
        if item.max_attempts is not None:
            fields["max_attempts"] = item.max_attempts
        plans.append({"name": item.name, "fields": fields, "secrets": secrets})
    return plans


def connections_apply(plans: list[dict], *, actor_label: str) -> list[str]:
    """Create or update each planned connection; return what changed (empty when nothing did)."""
    from integrations.services import connection_save

    changed = []
    for plan in plans:
        connection = Connection.objects.filter(name=plan["name"]).first()
        is_new = connection is None
        connection = connection or Connection(name=plan["name"])
        differs = is_new or any(getattr(connection, k) != v for k, v in plan["fields"].items())
        new_secrets = {k: v for k, v in plan["secrets"].items() if getattr(connection, k) != v}
        if not differs and not new_secrets:
            continue
        for key, value in plan["fields"].items():
            setattr(connection, key, value)
        connection_save(connection=connection, secrets=new_secrets, actor_label=actor_label)
        changed.append(f"connection {plan['name']}: {'created' if is_new else 'updated'}")
    return changed


def connections_export() -> list[ConnectionItem]:
    items = []
    for connection in Connection.objects.order_by("name"):
        options = dict(connection.options)
        refs = options.pop("secret_refs", {})
        auth: dict[str, Any] = {"type": connection.auth_type}
        for key in _PLAIN_AUTH_KEYS:
            if key in options:
                auth[key] = options.pop(key)
        for key, env_name in refs.items():
            auth[key] = f"${{{env_name}}}"
        item: dict[str, Any] = {
            "name": connection.name,
            "provider": connection.provider,
            "environment": connection.environment,
        }
        if connection.base_url:
            item["base_url"] = connection.base_url
        item["auth"] = Auth.model_construct(**auth)
        if connection.rate_limit_requests and connection.rate_limit_seconds:
            item["rate_limit"] = RateLimit.model_construct(
                requests=connection.rate_limit_requests,
                per_seconds=connection.rate_limit_seconds,
            )
        item["timeouts"] = Timeouts.model_construct(
            connect=connection.connect_timeout, read=connection.read_timeout
        )
        item["max_attempts"] = connection.max_attempts
        if options:
            item["options"] = options
        items.append(ConnectionItem.model_construct(**item))
    return items
