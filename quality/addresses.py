"""Email addresses, web addresses and company domains: the match keys of contacts and
companies, so each must be written exactly one way.

Messages never repeat the raw value: an email address is personal data, and these reasons end
up in logs and the dead-letter queue.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import urlsplit, urlunsplit

import tldextract
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from quality.errors import ValueRejected

# One extractor for the process, built offline: with suffix_list_urls=() and no cache dir it
# reads the Public Suffix List snapshot bundled in the wheel and never fetches
# (https://github.com/john-kurkowski/tldextract#note-about-caching).
_TLD = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


# --- email ---------------------------------------------------------------------------------


def normalize_email(value: str) -> str:
    """Syntax-checked, lowercased email, usable as the contact match key.

    email-validator lowercases only the domain (the RFC lets local parts be case-sensitive),
    but HubSpot matches contacts case-insensitively, so the whole address is lowercased
    (https://github.com/JoshData/python-email-validator#normalization). Deliverability (DNS)
    is off: pipelines and tests must not depend on the network.
    """
    text = str(value).strip()
    if text[:7].lower() == "mailto:":
        text = text[7:].strip()
    if not text:
        raise ValueRejected("not a valid email address: it is empty")
    lowered = text.lower()
    if _is_plain_ascii_email(lowered):
        if not _has_known_tld(lowered.rpartition("@")[2]):
            raise ValueRejected(_UNKNOWN_TLD)
        return lowered
    try:
        # HubSpot accepts RFC 2822 addresses only: an ASCII local part (internationalized
        # local parts need SMTPUTF8, RFC 6531) on a domain that may be internationalized
        # (docs/connections.md, "Email addresses").
        result = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        if "internationalized characters before the @-sign" in str(exc).lower():
            raise ValueRejected(_NON_ASCII_LOCAL) from None
        raise ValueRejected("not a valid email address: " + _scrub(str(exc), text)) from None
    if not _has_known_tld(result.ascii_domain.lower()):
        raise ValueRejected(_UNKNOWN_TLD)
    return result.normalized.lower()


_NON_ASCII_LOCAL = (
    "not a valid email address: HubSpot takes only unaccented Latin letters, digits and "
    "punctuation before the @-sign"
)
_UNKNOWN_TLD = (
    "not a valid email address: the part after the @-sign does not end in a known top-level domain"
)
# A strict subset of what email-validator accepts: plain ASCII dot-atoms on an ASCII host
# (its rfc_constants.DOT_ATOM_TEXT and HOSTNAME_LABEL, with fewer characters). Most business
# addresses match and skip the full validator, which costs ~17 µs each; anything unusual
# (Unicode, punycode, quotes, odd characters) still goes through it.
# tests/quality/test_normalize_email.py checks both paths agree.
_PLAIN_EMAIL = re.compile(
    r"[a-z0-9_+\-]+(?:\.[a-z0-9_+\-]+)*@(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
)
_SPECIAL_USE = frozenset(SPECIAL_USE_DOMAIN_NAMES)


def _is_plain_ascii_email(text: str) -> bool:
    if len(text) > 254 or "xn--" in text or not _PLAIN_EMAIL.fullmatch(text):
        return False
    domain = text.rpartition("@")[2]
    # Special-use names (.test, .local, …) go the slow way so email-validator words the reason.
    return domain.rpartition(".")[2] not in _SPECIAL_USE


@functools.lru_cache(maxsize=4096)
def _has_known_tld(domain: str) -> bool:
    # HubSpot also requires a real IANA top-level domain, which email-validator does not check
    # (https://legacydocs.hubspot.com/docs/faq/how-does-hubspot-validate-email-addresses).
    # Cached because a file's contacts share a few company domains.
    return bool(_TLD(domain).suffix)


def _scrub(message: str, raw: str) -> str:
    """Library messages may quote parts of the address; replace any that appear."""
    local, _, domain = raw.rpartition("@")
    for part in sorted({raw, local, domain}, key=len, reverse=True):
        if len(part) >= 3 and part in message:
            message = message.replace(part, "…")
    return message[:1].lower() + message[1:].rstrip(".")


# --- URLs and domains ----------------------------------------------------------------------

_SCHEME = re.compile(r"^[a-z][a-z0-9+.\-]*://", re.IGNORECASE)
_HOST = re.compile(r"^[\w\-.]+$")
# Click-tracking parameters added by ad and email tools; they make one page look like many.
_TRACKING_PARAMS = frozenset(
    {"gclid", "fbclid", "msclkid", "mc_cid", "mc_eid", "_hsenc", "_hsmi", "yclid", "igshid"}
)
_TRACKING_PREFIXES = ("utm_", "hsa_")


_WHITESPACE = re.compile(r"\s")


# Hosts repeat heavily in an export (every LinkedIn URL is linkedin.com, a company's website
# is on each of its contacts), and the suffix lookup is the costliest step of a URL.
@functools.lru_cache(maxsize=65536)
def _host_has_known_suffix(host: str) -> bool:
    return bool(_TLD(host).suffix)


def _is_tracking(key: str) -> bool:
    return key in _TRACKING_PARAMS or key.startswith(_TRACKING_PREFIXES)


_UNKNOWN_SUFFIX = "not a valid URL: the site name does not end in a known domain"
# The common shape: optional http(s) scheme, an ASCII host of dot-separated letter-digit-hyphen
# labels (no hyphen at a label's edge, no trailing dot, port or user info) and a path of RFC 3986
# path characters (pchar and "/", %-escapes only as % and two hex digits). Without a query or
# fragment the result is just the lowercased scheme and host and the path minus trailing
# slashes, so urlsplit/urlunsplit can be skipped: linkedin.com/in/… went from ~3.8 µs to ~1 µs
# (timeit). Anything else (queries, ports, "//host", user info, Unicode, whitespace, …) takes
# the full path, ~0.5 µs slower for the failed match. Explicit [A-Za-z] classes instead of
# IGNORECASE (which would also let "K", the Kelvin sign, match), and possessive quantifiers so a
# failed match does not backtrack. tests/quality/test_normalize_url.py checks both paths agree.
_LDH_LABEL = r"[A-Za-z0-9]++(?:-++[A-Za-z0-9]++)*+"
_PATH_CHARS = r"[A-Za-z0-9\-._~!$&'()*+,;=:@/]*+"
_PLAIN_URL = re.compile(
    r"(?:([Hh][Tt][Tt][Pp][Ss]?+)://)?+"
    rf"((?:{_LDH_LABEL}\.)++{_LDH_LABEL})"
    rf"((?:/{_PATH_CHARS}(?:%[0-9A-Fa-f]{{2}}{_PATH_CHARS})*+)?+)"
)


def normalize_url(value: str) -> str:
    """URL → "https://host/path": adds https:// when missing, lowercases the host, drops the
    fragment, tracking parameters (utm_*, gclid, …) and any trailing slash, so one page is
    always written one way.
    """
    text = str(value).strip()
    plain = _PLAIN_URL.fullmatch(text)
    if plain is None:
        return _normalize_url_slow(text)
    scheme, host, path = plain.groups()
    host = host.lower()
    if not _host_has_known_suffix(host):
        raise ValueRejected(_UNKNOWN_SUFFIX)
    return f"{(scheme or 'https').lower()}://{host}{path.rstrip('/')}"


def _normalize_url_slow(text: str) -> str:
    """normalize_url for any stripped text, through urlsplit."""
    if not text:
        raise ValueRejected("not a valid URL: it is empty")
    if _WHITESPACE.search(text):
        raise ValueRejected("not a valid URL: it contains spaces")
    if not _SCHEME.match(text):
        text = "https://" + text.removeprefix("//")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValueRejected("not a valid URL: it cannot be read as a web address") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueRejected("not a valid URL: only http and https web addresses are accepted")
    if parts.username or parts.password:
        raise ValueRejected("not a valid URL: it contains a user name or password")
    host = (parts.hostname or "").rstrip(".")
    if not host or not _HOST.match(host) or not _host_has_known_suffix(host):
        raise ValueRejected(_UNKNOWN_SUFFIX)
    netloc = host if port is None else f"{host}:{port}"
    # Filter the raw "k=v" pairs rather than decode and re-encode them, which would rewrite
    # the encoding of the parameters that stay.
    query = (
        "&".join(
            pair
            for pair in parts.query.split("&")
            if pair and not _is_tracking(pair.partition("=")[0].lower())
        )
        if parts.query
        else ""
    )
    return urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/"), query, ""))


def normalize_domain(value: str) -> str:
    """Registered domain of a URL, email or host: "https://www.Acme.co.uk/about" → "acme.co.uk".

    This is the company match key, so subdomains go ("eu.acme.com" → "acme.com"). Only the
    ICANN part of the Public Suffix List is used: "acme.blogspot.com" → "blogspot.com".
    Punycode is shown as Unicode so "xn--mnchen-3ya.de" and "münchen.de" are one company.
    """
    text = str(value).strip().lower()
    if not text:
        raise ValueRejected("not a valid domain: it is empty")
    if "@" in text and "/" not in text:
        text = text.rpartition("@")[2]
    elif _SCHEME.match(text) or any(ch in text for ch in "/?:#"):
        try:
            text = urlsplit(text if _SCHEME.match(text) else "//" + text).hostname or ""
        except ValueError:
            text = ""
    text = text.strip().rstrip(".")
    if not text or not _HOST.match(text):
        raise ValueRejected("not a valid domain: no site name found in it")
    ok, result = _registered_domain(text)
    if not ok:
        raise ValueRejected(result)
    return result


@functools.lru_cache(maxsize=4096)
def _registered_domain(host: str) -> tuple[bool, str]:
    """(True, domain) or (False, reason). Cached: a file's rows share few company sites."""
    registered = _TLD(host).top_domain_under_public_suffix
    if not registered:
        return False, "not a valid domain: it does not end in a known top-level domain"
    if "xn--" in registered:
        try:
            # Python's built-in IDNA codec: enough to turn punycode labels back into Unicode.
            registered = registered.encode("ascii").decode("idna")
        except UnicodeError:
            return False, "not a valid domain: malformed international name"
    return True, registered
