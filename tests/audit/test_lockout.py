"""Login throttling: django-axes locks a username + IP out after 5 failures, and it is all audited."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.urls import reverse

from audit.aggregate import audit_aggregates_flush
from audit.models import AuditEvent
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def attempt(client, username, password):
    return client.post(reverse("admin:login"), {"username": username, "password": password})


def test_the_sixth_attempt_is_refused_even_with_the_right_password(client, admin_user):
    assert settings.AXES_FAILURE_LIMIT == 5
    for _ in range(5):
        attempt(client, admin_user.username, "not-the-password")
    response = attempt(client, admin_user.username, PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_each_failure_and_the_lockout_are_audited(client, admin_user):
    for _ in range(5):
        attempt(client, admin_user.username, "not-the-password")
    failures = AuditEvent.objects.filter(
        action="auth.login_failed", actor_label=admin_user.username
    )
    # One event for the series, then its count once the window is over (audit/aggregate.py).
    assert failures.count() == 1
    audit_aggregates_flush(now=time.time() + settings.AUDIT_AGGREGATE_SECONDS)
    assert failures.count() == 2
    assert failures.order_by("id").last().metadata["repeated"] == 4
    locked = AuditEvent.objects.get(action="auth.locked_out")
    assert locked.metadata["username"] == admin_user.username
    assert locked.ip_address == "127.0.0.1"
    assert not AuditEvent.objects.filter(action="auth.login").exists()


def test_four_failures_do_not_lock_the_user_out(client, admin_user):
    for _ in range(4):
        attempt(client, admin_user.username, "not-the-password")
    assert attempt(client, admin_user.username, PASSWORD).status_code == 302
    assert AuditEvent.objects.filter(action="auth.login", actor_id=admin_user.pk).exists()


def test_session_expires_after_thirty_idle_minutes_and_cookies_are_http_only():
    assert settings.SESSION_COOKIE_AGE <= 30 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST
    assert settings.SESSION_COOKIE_HTTPONLY
    assert settings.SESSION_COOKIE_SAMESITE == "Lax"
