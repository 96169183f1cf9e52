"""Connections to the outside world, and the log of every call made through them."""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.utils import timezone

from integrations.crypto import EncryptedTextField

# HubSpot asks for quarterly rotation of private-app tokens; we warn past this age.
CREDENTIAL_MAX_AGE = timedelta(days=90)


class Provider(models.TextChoices):
    HUBSPOT = "hubspot", "HubSpot"
    APOLLO = "apollo", "Apollo"
    CLAY = "clay", "Clay (inbound webhook)"
    SLACK = "slack", "Slack"
    BUILTWITH = "builtwith", "BuiltWith"
    CLEARBIT = "clearbit", "Clearbit"
    HTTP = "http", "HTTP JSON API"
    WAREHOUSE = "warehouse", "PostgreSQL warehouse"


class Environment(models.TextChoices):
    DEVELOPMENT = "development", "Development"
    STAGING = "staging", "Staging"
    PRODUCTION = "production", "Production"


class AuthType(models.TextChoices):
    PRIVATE_APP = "private_app", "Private-app / static token"
    OAUTH = "oauth", "OAuth 2.0"
    API_KEY = "api_key", "API key"
    BEARER = "bearer", "Bearer token"
    BASIC = "basic", "HTTP basic"
    HEADER_TOKEN = "header_token", "Shared secret in a header (inbound)"
    HMAC_SHA256 = "hmac_sha256", "HMAC-SHA256 signature (inbound)"
    WEBHOOK_URL = "webhook_url", "Incoming-webhook URL"
    DSN = "dsn", "Database URL"
    NONE = "none", "None"


class ConnectionStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    NEEDS_RECONNECT = "needs_reconnect", "Needs reconnect"
    WAITING_FOR_QUOTA = "waiting_for_quota", "Waiting for quota"
    # The provider says the destination is gone (a revoked Slack webhook, an archived
    # channel): no call until an admin fixes it and Test connection succeeds.
    NEEDS_ATTENTION = "needs_attention", "Needs attention"
    DISABLED = "disabled", "Disabled"


class Connection(models.Model):
    """One external account. Secrets are encrypted column by column and never shown again."""

    SECRET_FIELDS = ("token", "client_secret", "access_token", "refresh_token")

    name = models.SlugField(
        max_length=80, unique=True, help_text="Referenced by workflows and config files."
    )
    provider = models.CharField(max_length=20, choices=Provider.choices)
    environment = models.CharField(
        max_length=20, choices=Environment.choices, default=Environment.PRODUCTION
    )
    auth_type = models.CharField(
        max_length=20, choices=AuthType.choices, default=AuthType.PRIVATE_APP
    )
    base_url = models.URLField(
        blank=True, help_text="Empty: the provider's public API. Set it to reach a sandbox."
    )
    connect_timeout = models.FloatField(default=5.0)
    read_timeout = models.FloatField(default=30.0)
    max_attempts = models.PositiveSmallIntegerField(default=5)
    rate_limit_requests = models.PositiveIntegerField(null=True, blank=True)
    rate_limit_seconds = models.PositiveIntegerField(null=True, blank=True)
    # Non-secret, provider-specific settings: OAuth client id and scopes, the scoring API's
    # method/path/result path, the warehouse table, the Clay signature header name...
    options = models.JSONField(default=dict, blank=True)

    # The primary credential: private-app token, API key, bot token, webhook secret or URL, DSN.
    token = EncryptedTextField(blank=True)
    client_secret = EncryptedTextField(blank=True)
    access_token = EncryptedTextField(blank=True)
    refresh_token = EncryptedTextField(blank=True)
    access_token_expires_at = models.DateTimeField(null=True, blank=True)
    # Last four characters of each secret, kept in clear so the admin can say which one is set.
    secret_hints = models.JSONField(default=dict, blank=True, editable=False)
    credentials_updated_at = models.DateTimeField(null=True, blank=True, editable=False)

    # HubSpot only: the portal (hub) this credential reaches and its time zone, read from
    # account-info at Test connection and Connect. Every connection to one portal shares one
    # rate-limit budget, and the daily limit resets at midnight in that zone.
    portal_id = models.CharField(max_length=32, blank=True, editable=False, db_index=True)
    portal_timezone = models.CharField(max_length=64, blank=True, editable=False)

    status = models.CharField(
        max_length=20, choices=ConnectionStatus.choices, default=ConnectionStatus.ACTIVE
    )
    status_message = models.CharField(max_length=300, blank=True)
    paused_until = models.DateTimeField(null=True, blank=True)
    last_tested_at = models.DateTimeField(null=True, blank=True)
    last_test_verdict = models.CharField(max_length=300, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        permissions = [("test_connection", "Can test a connection")]

    def __str__(self) -> str:
        return self.name

    @property
    def credential_age(self) -> timedelta | None:
        if self.credentials_updated_at is None:
            return None
        return timezone.now() - self.credentials_updated_at

    @property
    def credentials_are_stale(self) -> bool:
        age = self.credential_age
        return age is not None and age > CREDENTIAL_MAX_AGE


class RequestLog(models.Model):
    """One outbound HTTP attempt. Never headers, query strings, bodies or ids: only the shape."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="requests")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    method = models.CharField(max_length=8)
    path_template = models.CharField(max_length=200)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    attempt = models.PositiveSmallIntegerField(default=1)
    rate_limit_remaining = models.IntegerField(null=True, blank=True)
    rate_limit_max = models.IntegerField(null=True, blank=True)
    # The daily budget's headers when the provider sends them (HubSpot private apps, Apollo).
    daily_remaining = models.IntegerField(null=True, blank=True)
    daily_max = models.IntegerField(null=True, blank=True)
    error_category = models.CharField(max_length=60, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["connection", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.method} {self.path_template} → {self.status}"
