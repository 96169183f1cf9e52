"""normalize_url's regex fast path against the full urlsplit path it short-cuts."""

from __future__ import annotations

import pytest

from quality import addresses
from quality.normalize import ValueRejected, normalize_url


def _outcome(normalize, raw):
    """("ok", url) or ("rejected", reason, code), so results and refusals compare alike."""
    try:
        return ("ok", normalize(raw))
    except ValueRejected as exc:
        return ("rejected", exc.reason, exc.code)


# A broad corpus: common shapes that the fast path should take, and near misses it must leave
# to urlsplit. Both paths must agree on every one.
URL_CORPUS = [
    # plain hosts, schemes in any case
    "acme.com",
    "ACME.COM",
    "www.acme.com",
    "http://acme.com",
    "https://acme.com",
    "HTTP://ACME.COM",
    "HTTPS://acme.com/",
    "hTTpS://WWW.Acme.Com/About",
    "  https://acme.com/x  ",
    "\tacme.com/x\n",
    "http://http://acme.com",
    "https:/acme.com",
    "https//acme.com",
    "ftp://acme.com",
    "javascript:alert(1)",
    "mailto:ada@acme.com",
    # trailing slashes
    "acme.com/",
    "acme.com//",
    "acme.com///",
    "https://acme.com/about/",
    "https://acme.com/about///",
    "https://acme.com//about",
    "https://acme.com///a///b///",
    # paths with unusual but plain characters
    "acme.com/a/./b/../c",
    "acme.com/~ada",
    "acme.com/file.name-with_under~score",
    "acme.com/a:b",
    "acme.com/a:b@c",
    "acme.com/@ada",
    "acme.com/a;b=c,d",
    "acme.com/it's(1)*!$+&",
    "acme.com/%7Eada",
    "acme.com/caf%C3%A9/",
    "acme.com/a%2",
    "acme.com/a%zz",
    "acme.com/100%",
    "acme.com/a\\b",
    "acme.com/a|b",
    "acme.com/[x]",
    'acme.com/"x"',
    "acme.com/<x>",
    "acme.com/a^b",
    "acme.com/a`b",
    "acme.com/café",
    "acme.com/a b",
    "acme.com/\x00",
    # LinkedIn forms
    "linkedin.com/in/someone",
    "linkedin.com/in/ada-lovelace/",
    "www.linkedin.com/in/someone/",
    "LinkedIn.com/IN/Someone",
    "https://www.linkedin.com/in/ada-lovelace-1a2b3c4d/",
    "https://uk.linkedin.com/in/someone-123abc",
    "https://www.linkedin.com/company/acme-inc/",
    "https://www.linkedin.com/pub/ada/1/2/3",
    "https://www.linkedin.com/in/%C3%A9mile-zola-1a2b3c",
    "https://www.linkedin.com/in/émile-zola",
    "https://www.linkedin.com/in/someone?trk=public_profile",
    "https://www.linkedin.com/in/someone/?originalSubdomain=uk",
    "//www.linkedin.com/in/someone",
    # suffixes known and unknown
    "acme.co.uk",
    "WWW.ACME.CO.UK/About/",
    "shop.acme.com.au/x",
    "acme.blogspot.com",
    "a.b.c.d.e.acme.com",
    "acme.c0m",
    "acme.notarealtld",
    "acme.notarealtld/path/",
    "acme.test",
    "acme.local",
    "co.uk",
    "com",
    "acme",
    "localhost",
    "localhost/x",
    "xn--mnchen-3ya.de/x",
    "münchen.de",
    "xn--.com",
    # label shapes
    "my-acme.com",
    "my--acme.com",
    "-acme.com",
    "acme-.com",
    "acme.-com",
    "acme.com-",
    "ex_ample.com",
    "acme..com",
    ".acme.com",
    "acme.com.",
    "acme.com./x",
    "123.com",
    "acme.123",
    "1.2.3.4.com",
    "a" * 63 + ".com",
    "a" * 64 + ".com",
    "a" * 300 + ".com/" + "b" * 300,
    "lin\u212aedin.com",  # Kelvin sign, which IGNORECASE would match as "k"
    "\u017fhop.com",  # long s, likewise "s"
    # IP-looking hosts
    "192.168.0.1",
    "192.168.0.1/admin",
    "https://10.0.0.1/",
    "https://[::1]/",
    "999.999.999.999",
    # protocol-relative and empty-ish
    "//acme.com/path",
    "///acme.com",
    "//ACME.com/",
    "",
    "   ",
    "/",
    ".",
    "-",
    "N/A",
    "http://",
    "https://.com",
    # queries, fragments, tracking parameters
    "acme.com?x=1",
    "acme.com/?",
    "acme.com/#",
    "acme.com#top",
    "https://acme.com/p#team",
    "https://acme.com/p?utm_source=li&utm_medium=x&id=3#team",
    "https://acme.com/?utm_source=newsletter",
    "https://acme.com/?gclid=abc&fbclid=def",
    "https://acme.com/s?q=a%20b&utm_campaign=x&Q=1",
    "https://acme.com/p?UTM_SOURCE=x&hsa_acc=1&keep=1",
    # ports and user info
    "acme.com:443",
    "acme.com:8080/x",
    "https://Acme.com:8443/a",
    "acme.com:",
    "acme.com:99999",
    "acme.com:abc",
    "ada@acme.com",
    "https://ada:pw@acme.com",
    "https://ada@acme.com/x",
]


@pytest.mark.parametrize("raw", URL_CORPUS)
def test_fast_path_agrees_with_the_urlsplit_path(raw):
    """Every URL gets the same result, or the same refusal, whichever path it takes."""
    assert _outcome(normalize_url, raw) == _outcome(addresses._normalize_url_slow, str(raw).strip())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("linkedin.com/in/someone", "https://linkedin.com/in/someone"),
        ("HTTPS://WWW.LinkedIn.COM/in/Ada-Lovelace//", "https://www.linkedin.com/in/Ada-Lovelace"),
        ("HTTP://Acme.CO.UK", "http://acme.co.uk"),
        ("acme.com///", "https://acme.com"),
        ("acme.com/caf%C3%A9/", "https://acme.com/caf%C3%A9"),
    ],
)
def test_plain_urls_are_normalized_without_urlsplit(monkeypatch, raw, expected):
    def urlsplit_must_not_run(*args, **kwargs):
        raise AssertionError("the fast path should not need urlsplit")

    monkeypatch.setattr(addresses, "urlsplit", urlsplit_must_not_run)
    monkeypatch.setattr(addresses, "urlunsplit", urlsplit_must_not_run)
    assert normalize_url(raw) == expected


def test_plain_url_on_an_unknown_suffix_is_refused_without_urlsplit(monkeypatch):
    def urlsplit_must_not_run(*args, **kwargs):
        raise AssertionError("the fast path should not need urlsplit")

    monkeypatch.setattr(addresses, "urlsplit", urlsplit_must_not_run)
    with pytest.raises(ValueRejected) as excinfo:
        normalize_url("acme.notarealtld/about")
    assert excinfo.value.reason == "not a valid URL: the site name does not end in a known domain"


@pytest.mark.parametrize(
    "raw",
    [
        "https://acme.com/p?utm_source=x",
        "https://acme.com/p#team",
        "acme.com:8080",
        "//acme.com/x",
        "https://ada@acme.com",
        "münchen.de",
        "lin\u212aedin.com",
        "acme.com.",
    ],
)
def test_urls_outside_the_plain_shape_still_go_through_urlsplit(monkeypatch, raw):
    class UrlsplitCalled(Exception):
        pass

    def urlsplit_called(*args, **kwargs):
        raise UrlsplitCalled

    monkeypatch.setattr(addresses, "urlsplit", urlsplit_called)
    with pytest.raises(UrlsplitCalled):
        normalize_url(raw)
