"""Where a connection may point.

A base URL is typed by an admin, so it is an SSRF vector: pointed at 169.254.169.254 it would
send our credentials to the cloud metadata service, pointed at 10.0.0.5 it would probe the
internal network. A base URL must be https and resolve only to public addresses
(integrations/addresses.py), unless its exact origin is listed in ALLOWED_PRIVATE_BASE_URLS
(local development: the sandboxes). Checked when saved, when a client is built, and by the
transport at connect time, which pins the checked address (DNS can change in between).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

from integrations.addresses import AddressRefused, origin_allowed, public_addresses
from integrations.url_path import path_refusal

PROVIDER_DEFAULT_BASE_URLS = {
    "hubspot": "https://api.hubapi.com",
    # Endpoint paths are appended to these, so each ends where the provider's paths begin
    # (docs/connections.md): Apollo's live under /api/v1, Slack's Web API methods under /api.
    "apollo": "https://api.apollo.io/api/v1",
    "slack": "https://slack.com/api",
    "builtwith": "https://api.builtwith.com",
    "clearbit": "https://company.clearbit.com",
}


def base_url_validate(url: str, *, allow_private: bool | None = None) -> None:
    """Raise ValidationError naming the problem when `url` may not be used as a base URL.
    ``allow_private`` overrides the settings' list: True lets any origin through unresolved
    (tests), False allows none."""
    if allow_private is None:
        allowed = tuple(settings.ALLOWED_PRIVATE_BASE_URLS)
    else:
        allowed = ("*",) if allow_private else ()
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ValidationError(f"{url!r} is not a URL") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValidationError(f"{url!r} is not an http(s) URL with a host name")
    if parts.username or parts.password:
        raise ValidationError("Put credentials in the connection's secret fields, never in the URL")
    if origin_allowed(url, allowed):
        return
    if parts.scheme != "https":
        raise ValidationError(
            "Connections must use https outside local development "
            "(or list this exact origin in ALLOWED_PRIVATE_BASE_URLS)"
        )
    try:
        public_addresses(parts.hostname, parts.port or 443)
    except AddressRefused as refused:
        raise ValidationError(str(refused)) from None


def base_url_for(provider: str, base_url: str) -> str:
    return (base_url or PROVIDER_DEFAULT_BASE_URLS.get(provider, "")).rstrip("/")


def relative_path_validate(path: str) -> None:
    """Raise ValidationError naming the problem when `path` may not be joined onto a base URL
    (`integrations.url_path.path_refusal`). The validator of every form field and config key
    that holds such a path; the transport checks again before every request."""
    reason = path_refusal(path)
    if reason is not None:
        raise ValidationError(f"{str(path)[:80]!r}: {reason}")
