"""Connections as code: the `connections:` section of `manage.py config export|apply`.

Secrets in a config file are `${ENV_VAR}` references, resolved when applied and stored
encrypted; the reference's name is remembered (options.secret_refs) so export can print the
reference again, never the value.
"""

from __future__ import annotations

import os
import re
from typing import Any

from django.core.exceptions import ValidationError

from integrations.base_url import base_url_validate
from integrations.models import AuthType, Connection, Environment, Provider

ENV_REF = re.compile(r"^\$\{([A-Z_][A-Z0-9_]*)\}$")

# auth keys that hold a secret, and the encrypted column each goes to
_SECRET_KEYS = {
    "token": "token",
    "secret": "token",
    "api_key": "token",
    "url": "token",
    "dsn": "token",
    "client_secret": "client_secret",
}
_PLAIN_AUTH_KEYS = {"type", "client_id", "scopes", "header", "username"}
_TOP_KEYS = {
    "name",
    "provider",
    "environment",
    "base_url",
    "auth",
    "rate_limit",
    "timeouts",
    "max_attempts",
    "options",
    "__line__",
}


class ConfigError(Exception):
    def __init__(self, line: int | None, message: str) -> None:
        self.line = line
        super().__init__(f"line {line}: {message}" if line else message)


def _line(item: dict) -> int | None:
    return item.get("__line__")


def connections_validate(items: Any) -> list[dict]:
    """Check every item and resolve secrets; return normalized plans. Writes nothing."""
    if not isinstance(items, list):
        raise ConfigError(None, "`connections` must be a list")
    plans, seen = [], set()
    for index, item in enumerate(items):
        where = f"connections[{index}]"
        if not isinstance(item, dict):
            raise ConfigError(None, f"{where} must be a mapping")
        line = _line(item)
        unknown = set(item) - _TOP_KEYS
        if unknown:
            raise ConfigError(line, f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        name = item.get("name")
        if not name or not re.fullmatch(r"[-a-zA-Z0-9_]+", str(name)):
            raise ConfigError(line, f"{where}: `name` is required (letters, digits, - and _)")
        if name in seen:
            raise ConfigError(line, f"{where}: connection {name!r} appears twice")
        seen.add(name)
        provider = item.get("provider")
        if provider not in Provider.values:
            raise ConfigError(
                line, f"{where}: provider {provider!r} is not one of {', '.join(Provider.values)}"
            )
        environment = item.get("environment", Environment.PRODUCTION)
        if environment not in Environment.values:
            raise ConfigError(
                line,
                f"{where}: environment {environment!r} is not one of {', '.join(Environment.values)}",
            )
        auth = item.get("auth") or {"type": "none"}
        if not isinstance(auth, dict):
            raise ConfigError(line, f"{where}.auth must be a mapping")
        auth_line = _line(auth) or line
        auth_type = auth.get("type", "none")
        if auth_type not in AuthType.values:
            raise ConfigError(
                auth_line,
                f"{where}.auth.type {auth_type!r} is not one of {', '.join(AuthType.values)}",
            )
        secrets, refs, options = {}, {}, dict(item.get("options") or {})
        for key, value in auth.items():
            if key == "__line__" or key in _PLAIN_AUTH_KEYS:
                continue
            if key not in _SECRET_KEYS:
                raise ConfigError(auth_line, f"{where}.auth: unknown key {key!r}")
            match = ENV_REF.match(str(value))
            if not match:
                raise ConfigError(
                    auth_line,
                    f"{where}.auth.{key} must be an ${{ENV_VAR}} reference, never a value",
                )
            env_name = match.group(1)
            if env_name not in os.environ:
                raise ConfigError(
                    auth_line, f"{where}.auth.{key}: environment variable {env_name} is not set"
                )
            secrets[_SECRET_KEYS[key]] = os.environ[env_name]
            refs[key] = env_name
        for key in ("client_id", "scopes", "header", "username"):
            if key in auth:
                options[key] = auth[key]
        if refs:
            options["secret_refs"] = refs
        fields: dict[str, Any] = {
            "provider": provider,
            "environment": environment,
            "auth_type": auth_type,
            "base_url": item.get("base_url", ""),
            "options": options,
        }
        rate = item.get("rate_limit")
        if rate is not None:
            if not isinstance(rate, dict) or not all(
                isinstance(rate.get(k), int) and rate[k] > 0 for k in ("requests", "per_seconds")
            ):
                raise ConfigError(
                    _line(rate) if isinstance(rate, dict) else line,
                    f"{where}.rate_limit needs positive integers `requests` and `per_seconds`",
                )
            fields["rate_limit_requests"], fields["rate_limit_seconds"] = (
                rate["requests"],
                rate["per_seconds"],
            )
        timeouts = item.get("timeouts") or {}
        if "connect" in timeouts:
            fields["connect_timeout"] = float(timeouts["connect"])
        if "read" in timeouts:
            fields["read_timeout"] = float(timeouts["read"])
        if "max_attempts" in item:
            fields["max_attempts"] = int(item["max_attempts"])
        if fields["base_url"]:
            try:
                base_url_validate(fields["base_url"])
            except ValidationError as exc:
                raise ConfigError(line, f"{where}.base_url: {' '.join(exc.messages)}") from None
        plans.append({"name": name, "fields": fields, "secrets": secrets, "line": line})
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


def connections_export() -> list[dict]:
    items = []
    for connection in Connection.objects.order_by("name"):
        options = dict(connection.options)
        refs = options.pop("secret_refs", {})
        auth: dict[str, Any] = {"type": connection.auth_type}
        for key in ("client_id", "scopes", "header", "username"):
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
        item["auth"] = auth
        if connection.rate_limit_requests and connection.rate_limit_seconds:
            item["rate_limit"] = {
                "requests": connection.rate_limit_requests,
                "per_seconds": connection.rate_limit_seconds,
            }
        item["timeouts"] = {"connect": connection.connect_timeout, "read": connection.read_timeout}
        item["max_attempts"] = connection.max_attempts
        if options:
            item["options"] = options
        items.append(item)
    return items
