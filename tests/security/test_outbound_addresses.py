"""Outbound requests reach only public addresses, pinned at connect time; local development
allows only the configured stand-in origins."""

from __future__ import annotations

import ipaddress

import httpx
import pytest
from django.core.exceptions import ValidationError

from integrations import addresses, transport
from integrations.addresses import AddressRefused, PinnedTransport, address_blocked
from integrations.base_url import base_url_validate
from integrations.errors import RequestRejected
from integrations.hubspot import oauth as hubspot_oauth

BLOCKED = [
    "127.0.0.1",
    "10.0.0.5",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # AWS/GCP/Azure metadata
    "100.64.0.1",  # carrier-grade NAT
    "100.100.100.200",  # Alibaba Cloud metadata, inside 100.64.0.0/10
    "0.0.0.0",  # noqa: S104 - an address under test, not a bind
    "224.0.0.1",
    "::1",
    "fe80::1",
    "fd00::1",
    "::ffff:169.254.169.254",  # IPv4-mapped
    "2002:a9fe:a9fe::1",  # 6to4 wrapping 169.254.169.254
    "2002:0a00:0005::1",  # 6to4 wrapping 10.0.0.5
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b:1::a00:5",  # local-use NAT64
]
PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:2800:220:1:248:1893:25c8:1946", "64:ff9b::808:808"]


@pytest.mark.parametrize("text", BLOCKED)
def test_internal_and_wrapped_internal_addresses_are_blocked(text):
    assert address_blocked(ipaddress.ip_address(text))


@pytest.mark.parametrize("text", PUBLIC)
def test_public_addresses_pass(text):
    assert not address_blocked(ipaddress.ip_address(text))


@pytest.fixture
def dns(monkeypatch):
    """Host name → answers, in order: each lookup takes the next one (rebinding)."""
    answers: dict[str, list[list[str]]] = {}
    lookups: list[str] = []

    def resolve(host, port):
        lookups.append(host)
        queue = answers[host]
        return queue.pop(0) if len(queue) > 1 else queue[0]

    monkeypatch.setattr(addresses, "_getaddrinfo", resolve)
    return answers, lookups


@pytest.mark.parametrize("address", ["100.100.100.200", "2002:a9fe:a9fe::1", "64:ff9b::a9fe:a9fe"])
def test_a_base_url_resolving_to_a_hidden_internal_address_is_refused(settings, dns, address):
    settings.ALLOWED_PRIVATE_BASE_URLS = []
    dns[0]["api.partner.example"] = [[address]]
    with pytest.raises(ValidationError, match="resolves to"):
        base_url_validate("https://api.partner.example")


def test_only_the_configured_sandbox_origins_are_allowed_in_development(settings):
    settings.ALLOWED_PRIVATE_BASE_URLS = ["http://127.0.0.1:8765", "http://127.0.0.1:8766"]
    base_url_validate("http://127.0.0.1:8765")
    base_url_validate("http://127.0.0.1:8766/api")
    for url in ("http://169.254.169.254", "http://127.0.0.1:8000", "http://10.0.0.5:8765"):
        with pytest.raises(ValidationError):
            base_url_validate(url)


class Capture(httpx.BaseTransport):
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, json={"ok": True})


def test_the_checked_address_is_pinned_against_dns_rebinding(dns):
    answers, lookups = dns
    answers["api.partner.example"] = [["93.184.216.34"], ["169.254.169.254"]]
    inner = Capture()
    pinned = PinnedTransport(allowed_origins=(), inner=inner)
    with httpx.Client(transport=pinned, base_url="https://api.partner.example") as client:
        client.get("/one")
        client.get("/two")  # DNS now answers the metadata address: not asked again
    assert lookups == ["api.partner.example"]
    for request in inner.requests:
        assert request.url.host == "93.184.216.34"
        assert request.headers["Host"] == "api.partner.example"
        assert request.extensions["sni_hostname"] == "api.partner.example"


def test_a_host_that_rebinds_to_an_internal_address_is_refused_before_sending(dns):
    dns[0]["api.partner.example"] = [["169.254.169.254"]]
    inner = Capture()
    with (
        httpx.Client(
            transport=PinnedTransport(allowed_origins=(), inner=inner),
            base_url="https://api.partner.example",
        ) as client,
        pytest.raises(AddressRefused),
    ):
        client.get("/")
    assert inner.requests == []


def test_plain_http_to_a_public_host_is_refused_outside_the_allow_list(dns):
    dns[0]["api.partner.example"] = [["93.184.216.34"]]
    inner = Capture()
    with (
        httpx.Client(transport=PinnedTransport(allowed_origins=(), inner=inner)) as client,
        pytest.raises(AddressRefused, match="only https"),
    ):
        client.get("http://api.partner.example/")
    assert inner.requests == []


def test_the_oauth_token_endpoint_is_checked_when_used(monkeypatch, settings, dns):
    """The token call goes through the same guarded transport: a token endpoint host that now
    resolves to the metadata service gets nothing, not even the client secret."""
    settings.ALLOWED_PRIVATE_BASE_URLS = []
    dns[0]["api.hubapi.com"] = [["169.254.169.254"]]
    inner = Capture()
    monkeypatch.setattr(
        transport, "PinnedTransport", lambda **kw: PinnedTransport(inner=inner, **kw)
    )
    with pytest.raises(RequestRejected, match="refused") as refused:
        hubspot_oauth.refresh(
            base_url="https://api.hubapi.com",
            client_id="id",
            client_secret="client-secret-value-123456",
            refresh_token="refresh-token-value-123456",
        )
    assert refused.value.permanent
    assert inner.requests == []
