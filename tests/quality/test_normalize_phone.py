from __future__ import annotations

import phonenumbers
import pytest

from quality.countries import region_for_country
from quality.normalize import ValueRejected, normalize_phone


@pytest.mark.parametrize(
    ("raw", "region_hint", "expected"),
    [
        ("+44 20 7946 0958", None, "+442079460958"),
        ("'+44 20 7946 0958", None, "+442079460958"),  # Apollo's Excel-proof apostrophe
        ("'+44 194 387 3181", None, "+441943873181"),
        ("020 7946 0958", "United Kingdom", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("020 7946 0958", "uk", "+442079460958"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("(415) 555-2671", "United States", "+14155552671"),
        ("415.555.2671", "U.S.A.", "+14155552671"),
        ("030 901820", "Germany", "+4930901820"),
        ("+1 415 555 2671 ext. 12", None, "+14155552671"),  # E.164 has no extension
        ("0044 20 7946 0958", "GB", "+442079460958"),
        ("+44 20 7946 0958", "United States", "+442079460958"),  # + wins over the hint
    ],
)
def test_phone_numbers_become_e164(raw, region_hint, expected):
    assert normalize_phone(raw, region_hint=region_hint) == expected


@pytest.mark.parametrize(
    ("raw", "region_hint", "reason_contains"),
    [
        ("555-2671", "US", "wrong length or digits"),  # possible, but not a valid US number
        ("4155552671", None, "no +country code"),
        ("4155552671", "Narnia", "no +country code"),
        ("+999 123456", None, "country code after + does not exist"),
        ("call me", "US", "does not look like one"),
        ("'", "US", "empty"),
    ],
)
def test_invalid_phone_numbers_are_rejected_with_a_reason(raw, region_hint, reason_contains):
    with pytest.raises(ValueRejected) as excinfo:
        normalize_phone(raw, region_hint=region_hint)
    assert reason_contains in excinfo.value.reason
    digits = raw.strip("'")
    assert not digits or digits not in excinfo.value.reason


@pytest.mark.parametrize(
    ("country", "expected"),
    [
        ("United Kingdom", "GB"),
        ("united kingdom", "GB"),
        ("UK", "GB"),
        ("GB", "GB"),
        ("gb", "GB"),
        ("USA", "US"),
        ("U.S.", "US"),
        ("United States of America", "US"),
        ("The Netherlands", "NL"),
        ("Bosnia & Herzegovina", "BA"),  # from phonenumbers' own region names
        ("Poland", "PL"),
        ("Narnia", None),
        ("", None),
        (None, None),
    ],
)
def test_country_names_and_codes_become_iso_regions(country, expected):
    assert region_for_country(country) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "+44 1534 440000",  # Jersey shares +44 with GB
        "+44 1624 600000",  # Isle of Man
        "+1 613 555 0199",  # Canada shares +1 with the US
        "+1 787 555 0123",  # Puerto Rico
        "+1 415 555 2671",
        "+7 701 123 4567",  # Kazakhstan shares +7 with Russia
        "+262 269 61 23 45",  # Mayotte shares +262 with Réunion
        "+800 1234 5678",  # non-geographic
        "+44 20 1234",
    ],
)
def test_validity_gate_agrees_with_phonenumbers_is_valid_number(raw):
    number = phonenumbers.parse(raw)
    try:
        normalize_phone(raw)
        ours = True
    except ValueRejected:
        ours = False
    assert ours == phonenumbers.is_valid_number(number)
