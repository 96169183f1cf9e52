"""Dates, URLs, domains and text."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from quality.normalize import (
    ValueRejected,
    empty_to_none,
    normalize_date,
    normalize_domain,
    normalize_url,
    split_name,
    title_case,
)


@pytest.mark.parametrize(
    ("raw", "dayfirst", "expected"),
    [
        ("2024-03-05", False, "2024-03-05"),
        ("03/05/2024", False, "2024-03-05"),
        ("03/05/2024", True, "2024-05-03"),
        ("5 March 2024", False, "2024-03-05"),
        ("March 5, 2024", False, "2024-03-05"),
        ("2026-03-18T22:36:33+00:00", False, "2026-03-18T22:36:33.000Z"),  # Apollo
        ("2026-03-18T22:36:33Z", False, "2026-03-18T22:36:33.000Z"),
        ("2026-03-18T23:36:33+01:00", False, "2026-03-18T22:36:33.000Z"),
        ("2026-03-18 22:36:33", False, "2026-03-18T22:36:33.000Z"),  # no offset: UTC
        ("March 5, 2024 10am", False, "2024-03-05T10:00:00.000Z"),
        (date(2024, 3, 5), False, "2024-03-05"),
        (
            datetime(2024, 3, 5, 10, tzinfo=timezone(timedelta(hours=2))),
            False,
            "2024-03-05T08:00:00.000Z",
        ),
        (datetime(2024, 3, 5, 10, tzinfo=UTC), False, "2024-03-05T10:00:00.000Z"),
    ],
)
def test_dates_become_iso_dates_and_datetimes_become_utc(raw, dayfirst, expected):
    assert normalize_date(raw, dayfirst=dayfirst) == expected


@pytest.mark.parametrize(
    ("raw", "reason_contains"),
    [
        ("2024-02-30", "no such day"),
        ("March 2024", "missing"),  # dateutil would invent the day
        ("5", "missing"),
        ("next tuesday-ish", "not recognised"),
        ("   ", "empty"),
    ],
)
def test_bad_or_incomplete_dates_are_rejected(raw, reason_contains):
    with pytest.raises(ValueRejected, match=reason_contains):
        normalize_date(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("acme.com", "https://acme.com"),
        ("WWW.Acme.COM/About/", "https://www.acme.com/About"),
        ("https://acme.com/", "https://acme.com"),
        ("http://acme.com", "http://acme.com"),
        ("//acme.com/x", "https://acme.com/x"),
        ("https://acme.com/p?utm_source=li&utm_medium=x&id=3#team", "https://acme.com/p?id=3"),
        ("https://acme.com/?gclid=abc&fbclid=def", "https://acme.com"),
        ("linkedin.com/in/ada-lovelace/", "https://linkedin.com/in/ada-lovelace"),
        ("https://Acme.com:8443/a", "https://acme.com:8443/a"),
        ("https://acme.com/s?q=a%20b&utm_campaign=x&Q=1", "https://acme.com/s?q=a%20b&Q=1"),
    ],
)
def test_urls_are_written_one_way(raw, expected):
    assert normalize_url(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "N/A",
        "-",
        "not a website",
        "ftp://acme.com",
        "https://",
        "acme",
        "https://ada:pw@acme.com",
        "javascript:alert(1)",
        "https://acme.com:99999",
    ],
)
def test_garbage_urls_are_rejected(raw):
    with pytest.raises(ValueRejected, match="not a valid URL"):
        normalize_url(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://www.Acme.co.uk/about", "acme.co.uk"),
        ("acme.com", "acme.com"),
        ("WWW.ACME.COM", "acme.com"),
        ("eu.app.acme.com", "acme.com"),
        ("ada@Acme.io", "acme.io"),
        ("acme.com:8080", "acme.com"),
        ("http://acme.com.au/?x=1", "acme.com.au"),
        ("xn--mnchen-3ya.de", "münchen.de"),
        ("München.de", "münchen.de"),
    ],
)
def test_domain_is_the_registered_domain(raw, expected):
    assert normalize_domain(raw) == expected


@pytest.mark.parametrize("raw", ["localhost", "co.uk", "acme", "192.168.0.1", "not a domain", ""])
def test_hosts_without_a_registered_domain_are_rejected(raw):
    with pytest.raises(ValueRejected, match="not a valid domain"):
        normalize_domain(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ADA LOVELACE", "Ada Lovelace"),
        ("ada lovelace", "Ada Lovelace"),
        ("  ada   lovelace ", "Ada Lovelace"),
        ("MARY-JANE O'NEIL", "Mary-Jane O'Neil"),
        ("ada's analytics", "Ada's Analytics"),
        ("McDonald", "McDonald"),  # mixed case is deliberate: left alone
        ("iCIMS", "iCIMS"),
        # One plain word takes a shortcut; it must give what the general rules give.
        ("LOVELACE", "Lovelace"),
        ("lovelace", "Lovelace"),
        ("x", "X"),
        ("R2D2", "R2d2"),
        ("2PAC", "2pac"),
        ("ÉMILE", "Émile"),  # not ASCII: the general rules
        ("STRASSE", "Strasse"),
    ],
)
def test_title_case_fixes_shouting_and_lowercase_but_keeps_mixed_case(raw, expected):
    assert title_case(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ada Lovelace", ("Ada", "Lovelace")),
        ("  Ada   Lovelace  ", ("Ada", "Lovelace")),
        ("Ludwig van Beethoven", ("Ludwig", "van Beethoven")),
        ("Lovelace, Ada", ("Ada", "Lovelace")),
        ("Dr. Ada Lovelace", ("Ada", "Lovelace")),
        ("Ada", ("Ada", None)),
        ("", (None, None)),
        (None, (None, None)),
    ],
)
def test_split_name_gives_first_and_last(raw, expected):
    assert split_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", None),
        ("   ", None),
        ("\t\n", None),
        (None, None),
        ("x", "x"),
        (" x ", " x "),
        (0, 0),
        (False, False),
    ],
)
def test_empty_to_none_only_empties_blank_strings(raw, expected):
    assert empty_to_none(raw) == expected
