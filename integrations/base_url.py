"""Where a connection may point.

A base URL is typed by an admin, so it is an SSRF vector: pointed at 169.254.169.254 it would
send our credentials to the cloud metadata service, pointed at 10.0.0.5 it would probe the
internal network. Outside local development (ALLOW_PRIVATE_BASE_URLS) a base URL must be
https and resolve only to public addresses. Checked when saved and again when a client is
built, because DNS can change in between.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

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

_METADATA_HOSTS = {"metadata.google.internal", "metadata", "instance-data"}


def _blocked(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
        or (
            isinstance(address, ipaddress.IPv6Address)
            and address.ipv4_mapped is not None
            and _blocked(address.ipv4_mapped)
        )
    )


def base_url_validate(url: str, *, allow_private: bool | None = None) -> None:
    """Raise ValidationError naming the problem when `url` may not be used as a base URL."""
    if allow_private is None:
        allow_private = settings.ALLOW_PRIVATE_BASE_URLS
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValidationError(f"{url!r} is not an http(s) URL with a host name")
    if parts.username or parts.password:
        raise ValidationError("Put credentials in the connection's secret fields, never in the URL")
    if allow_private:
        return
    if parts.scheme != "https":
        raise ValidationError("Connections must use https outside local development")
    host = parts.hostname.lower()
    if host in _METADATA_HOSTS or host == "localhost" or host.endswith(".localhost"):
        raise ValidationError(f"{host} is a local or cloud-metadata address and cannot be used")
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        raise ValidationError(f"{host} does not resolve") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if _blocked(address):
            raise ValidationError(
                f"{host} resolves to {address}, a loopback, private, link-local or metadata address"
            )


def base_url_for(provider: str, base_url: str) -> str:
    return (base_url or PROVIDER_DEFAULT_BASE_URLS.get(provider, "")).rstrip("/")


def relative_path_validate(path: str) -> None:
    """Raise ValidationError naming the problem when `path` may not be joined onto a base URL
    (`integrations.url_path.path_refusal`). The validator of every form field and config key
    that holds such a path; the transport checks again before every request."""
    reason = path_refusal(path)
    if reason is not None:
        raise ValidationError(f"{str(path)[:80]!r}: {reason}")
