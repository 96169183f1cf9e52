"""Typed environment readers that fail loudly.

django-environ parses the values. `env` is its file-aware reader: any variable NAME may come
from the file named by NAME_FILE (Docker/Kubernetes secrets mount files, not env vars), so
`DATABASE_URL_FILE`, `REDIS_URL_FILE`, `EMAIL_URL_FILE`, `SECRET_KEY_FILE`... all work. The
file's surrounding whitespace is dropped (editors end files with a newline), and a file that
cannot be read is an `ImproperlyConfigured` naming the variable. The helpers below add an
`ImproperlyConfigured` naming the variable when a value is malformed, instead of a confusing
error at first use.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured


class _SecretFiles(environ.FileAwareMapping):
    """os.environ where NAME_FILE, when set, wins over NAME and holds the path of its value."""

    def __getitem__(self, key: str) -> str:
        file_var = f"{key}_FILE"
        if not self.env.get(file_var):
            return self.env[key]
        path = Path(self.env[file_var])
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{file_var} points to {path}, which cannot be read: {exc}"
            ) from exc


class _FileAwareEnv(environ.FileAwareEnv):
    ENVIRON = _SecretFiles()


env = _FileAwareEnv()


def env_secret(name: str, default: str | None = None) -> str | None:
    """Read NAME, or the contents of the file named by NAME_FILE."""
    return env.str(name, default=default) or default


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(
        f"{name}={raw!r} is not a boolean (use true/false, 1/0, yes/no, on/off)"
    )


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} is below the minimum of {minimum}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]
