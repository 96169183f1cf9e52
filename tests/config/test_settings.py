"""Settings: safe local defaults, loud failures on bad values, a clean `check --deploy`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": "x7!Kq2pVr9#Lm4Zt8sW1yB6nC3dF5gH0jQeRuIoPaSdFgHjKlZxCvBnM",
    "FIELD_ENCRYPTION_KEYS": "Q2hhbmdlLW1lLXRvLWEtcmVhbC1mZXJuZXQta2V5MTI=",
    "ALLOWED_HOSTS": "switchyard.example.com",
    "DATABASE_URL": "postgres://switchyard@db.internal:5432/switchyard",
    "REDIS_URL": "redis://redis.internal:6379/0",
}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy_with_no_issue():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_settings_keep_database_connections_healthy_across_restarts():
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings as s; d=s.DATABASES['default']; "
        "print(d['CONN_HEALTH_CHECKS'], d['CONN_MAX_AGE'] > 0, bool(s.ALLOWED_PRIVATE_BASE_URLS))",
        env=PRODUCTION_ENV,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-3:] == ["True", "True", "False"]


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"FIELD_ENCRYPTION_KEYS": ""}, "FIELD_ENCRYPTION_KEYS"),
        ({"DATABASE_URL": "sqlite:///tmp/x.sqlite3"}, "PostgreSQL"),
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
        ({"DB_CONN_MAX_AGE": "forever"}, "DB_CONN_MAX_AGE='forever' is not an integer"),
        (
            {"SECRET_KEY_FILE": "/nonexistent/secret"},
            "SECRET_KEY_FILE points to /nonexistent/secret",
        ),
    ],
)
def test_production_settings_refuse_to_start_with_bad_values(override, complaint):
    result = manage("check", env={**PRODUCTION_ENV, **override})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert complaint in result.stderr


def test_secret_can_come_from_a_file(tmp_path):
    secret_file = tmp_path / "secret_key"
    secret_file.write_text(PRODUCTION_ENV["SECRET_KEY"][::-1] + "\n")
    env = {**PRODUCTION_ENV, "SECRET_KEY": "", "SECRET_KEY_FILE": str(secret_file)}
    result = manage(
        "shell", "-c", "from django.conf import settings; print(len(settings.SECRET_KEY))", env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(len(PRODUCTION_ENV["SECRET_KEY"]))


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        (
            "DATABASE_URL",
            "postgres://switchyard@db.from-file:5432/switchyard",
            "settings.DATABASES['default']['HOST']",
        ),
        ("REDIS_URL", "redis://redis.from-file:6379/3", "settings.REDIS_URL"),
        ("EMAIL_URL", "smtp://mail.from-file:25", "settings.EMAIL_HOST"),
    ],
)
def test_connection_urls_can_come_from_files(tmp_path, name, value, shown):
    secret_file = tmp_path / name.lower()
    secret_file.write_text(value + "\n")
    env = {**PRODUCTION_ENV, name: "", f"{name}_FILE": str(secret_file)}
    result = manage("shell", "-c", f"from django.conf import settings; print({shown})", env=env)
    assert result.returncode == 0, result.stderr
    printed = result.stdout.strip().splitlines()[-1]
    assert printed in value
    assert "from-file" in printed


def test_local_defaults_need_no_environment():
    result = manage("check", env={"DJANGO_SETTINGS_MODULE": "config.settings.base"})
    assert result.returncode == 0, result.stderr


def test_env_example_documents_every_variable_the_settings_read():
    import re

    documented = set(
        re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M)
    )
    read = set()
    for path in (ROOT / "config").rglob("*.py"):
        read |= set(
            re.findall(
                r"env(?:_secret|_bool|_int|_list|\.str|\.db_url|\.email_url)\(\s*\"([A-Z0-9_]+)\"",
                path.read_text(),
            )
        )
    assert read - documented == set()


DEV_SECRET = "local-only-not-secret-switchyard-development-key-0000000000"
DEV_FIELD_KEY = "bG9jYWwtb25seS1zd2l0Y2h5YXJkLWRldi1rZXktMDA="


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ({"SECRET_KEY": DEV_SECRET}, "SECRET_KEY is the repository's public development key"),
        ({"SECRET_KEY": "local-only-" + "x" * 60}, "public development key"),
        (
            {"FIELD_ENCRYPTION_KEYS": f"{PRODUCTION_ENV['FIELD_ENCRYPTION_KEYS']},{DEV_FIELD_KEY}"},
            "FIELD_ENCRYPTION_KEYS holds the repository's public development key",
        ),
    ],
)
def test_production_refuses_the_public_development_keys(override, complaint):
    result = manage("check", env={**PRODUCTION_ENV, **override})
    assert result.returncode != 0
    assert complaint in result.stderr


def test_check_deploy_reports_the_development_keys_in_any_settings_module():
    result = manage("check", "--deploy", env={"DJANGO_SETTINGS_MODULE": "config.settings.base"})
    assert result.returncode != 0
    assert "switchyard.E001" in result.stderr + result.stdout
    assert "switchyard.E002" in result.stderr + result.stdout
