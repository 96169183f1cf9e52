"""Which addresses an outbound request may reach, and a transport that connects only there.

No Django here: the transport uses it for every request. integrations/base_url.py applies the
same rules when a base URL is saved (docs/security.md, "Outbound addresses").

- An address is refused unless it is globally routable: loopback, RFC 1918, link-local
  (169.254.169.254, the cloud metadata service), carrier-grade NAT 100.64.0.0/10 (Alibaba's
  metadata service is 100.100.100.200), reserved, multicast and unspecified ranges, and IPv6
  forms that wrap one of those: IPv4-mapped ``::ffff:a.b.c.d``, 6to4 ``2002:AABB:CCDD::``,
  NAT64 ``64:ff9b::a.b.c.d`` (and the local-use ``64:ff9b:1::/48``), Teredo.
- ``PinnedTransport`` resolves a host once, checks every address, and connects to the
  checked address while keeping the host name for the Host header and for TLS (SNI and
  certificate verification). DNS cannot answer a public address to the check and a private
  one to the connection (rebinding). Every host a client talks to goes through it, the OAuth
  token endpoint included, at the moment of use.
- Origins listed in ALLOWED_PRIVATE_BASE_URLS (local development: the sandboxes' exact
  ``http://127.0.0.1:PORT``) are let through unresolved; nothing else is.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import socket
from collections.abc import Callable, Iterable

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
METADATA_HOSTS = {"metadata.google.internal", "metadata", "instance-data"}


class AddressRefused(httpx.ConnectError):
    """The host resolves to an address no connection may reach. Permanent: retrying cannot
    help. A ConnectError, so nothing was sent."""


def address_blocked(address: IPAddress) -> bool:
    """True for any address that is not plainly a public one (see the module docstring)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = [address.ipv4_mapped, address.sixtofour]
        if address.teredo:
            embedded.append(address.teredo[1])
        if any(address in net for net in _NAT64):
            embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if any(inner is not None and address_blocked(inner) for inner in embedded):
            return True
        if any(address in net for net in _NAT64):
            return False  # a NAT64 form of a public address is as public as the address
    return (
        not address.is_global
        or address in _CGNAT
        or address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )


def origin_of(url: httpx.URL | str) -> str:
    url = httpx.URL(str(url))
    port = url.port or {"http": 80, "https": 443}.get(url.scheme, 0)
    return f"{url.scheme}://{url.host}:{port}".lower()


def origin_allowed(url: httpx.URL | str, allowed: Iterable[str]) -> bool:
    """True when the URL's origin matches an ALLOWED_PRIVATE_BASE_URLS entry (an origin such
    as ``http://127.0.0.1:8765``; ``*`` patterns are for test settings only)."""
    origin = origin_of(url)
    for entry in allowed:
        entry = entry.strip().rstrip("/").lower()
        if not entry:
            continue
        pattern = entry if "*" in entry else origin_of(entry)
        if fnmatch.fnmatchcase(origin, pattern):
            return True
    return False


def _getaddrinfo(host: str, port: int) -> list[str]:
    return [info[4][0] for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)]


def public_addresses(
    host: str, port: int, *, resolve: Callable[[str, int], list[str]] | None = None
) -> list[str]:
    """Every address `host` resolves to, all of them public; else AddressRefused naming why."""
    resolve = resolve or _getaddrinfo
    host = host.lower().rstrip(".")
    if host in METADATA_HOSTS or host == "localhost" or host.endswith(".localhost"):
        raise AddressRefused(f"{host} is a local or cloud-metadata host name")
    try:
        addresses = resolve(host, port)
    except (socket.gaierror, UnicodeError):
        raise AddressRefused(f"{host} does not resolve") from None
    if not addresses:
        raise AddressRefused(f"{host} does not resolve")
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if address_blocked(address):
            raise AddressRefused(
                f"{host} resolves to {address}, a loopback, private, link-local, shared or "
                "metadata address"
            )
    return addresses


class PinnedTransport(httpx.BaseTransport):
    """Connects only to checked public addresses, pinned for the life of the client."""

    def __init__(
        self,
        *,
        allowed_origins: Iterable[str] | None = None,
        inner: httpx.BaseTransport | None = None,
        resolve: Callable[[str, int], list[str]] | None = None,
        verify: object = True,
    ) -> None:
        self._allowed = allowed_origins
        self._inner = inner or httpx.HTTPTransport(verify=verify)
        self._resolve = resolve
        self._pins: dict[tuple[str, int], str] = {}

    def _allowed_origins(self) -> Iterable[str]:
        if self._allowed is None:
            from django.conf import settings  # the configured list, read at use

            self._allowed = tuple(getattr(settings, "ALLOWED_PRIVATE_BASE_URLS", ()))
        return self._allowed

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if origin_allowed(url, self._allowed_origins()):
            return self._inner.handle_request(request)
        if url.scheme != "https":
            raise AddressRefused(f"{url.host}: only https is allowed outside local development")
        port = url.port or 443
        key = (url.host, port)
        if key not in self._pins:
            self._pins[key] = public_addresses(url.host, port, resolve=self._resolve)[0]
        address = self._pins[key]
        # Connect to the checked address; the Host header (set from the original URL) and
        # the TLS server name stay the host's, so the certificate is verified against it.
        request.url = url.copy_with(host=address)
        request.extensions = {**request.extensions, "sni_hostname": url.host}
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()
