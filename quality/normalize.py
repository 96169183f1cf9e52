"""Pure normalizers: one messy value in, one canonical value out, or ValueRejected.

No database, no network, no Django models: the pipelines call these per record, the import
wizard calls them on a sample, and the tests call them directly. Messages are written for a
RevOps admin reading the dead-letter queue, and never repeat the raw value (it may be PII).
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime
from typing import Any

import phonenumbers
from dateutil import parser as date_parser

# Email, URL and domain live in quality.addresses; they are re-exported so callers have one
# module of normalizers to import from.
from quality.addresses import normalize_domain, normalize_email, normalize_url
from quality.countries import region_for_country
from quality.errors import ValueRejected

__all__ = [
    "ValueRejected",
    "empty_to_none",
    "normalize_date",
    "normalize_domain",
    "normalize_email",
    "normalize_phone",
    "normalize_url",
    "split_name",
    "title_case",
]


# --- text ----------------------------------------------------------------------------------


def empty_to_none(value: Any) -> Any:
    """Empty and whitespace-only strings → None; everything else unchanged."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


_WORD_START = re.compile(r"(^|[\s\-/(])(\w)")
_ELISION = re.compile(r"\b([A-Za-z])'(\w)")  # o'neil → O'Neil, d'arcy → D'Arcy


def title_case(value: str) -> str:
    """ "ADA LOVELACE" / "ada lovelace" → "Ada Lovelace"; mixed case is left alone.

    Mixed case usually means a person typed it deliberately ("McDonald", "DeVito", "iCIMS"),
    and str.title() would break it ("Mcdonald", "Ada'S").
    """
    text = " ".join(value.split())
    if text != text.upper() and text != text.lower():
        return text
    if text.isascii() and text.isalnum():  # one plain word: what the rules below give, ~5x faster
        return text.capitalize()
    text = _WORD_START.sub(lambda m: m.group(1) + m.group(2).upper(), text.lower())
    return _ELISION.sub(lambda m: m.group(1).upper() + "'" + m.group(2).upper(), text)


_HONORIFICS = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame"})


def split_name(value: str | None) -> tuple[str | None, str | None]:
    """Full name → (first, last): first word, then the rest ("Ludwig van Beethoven" →
    ("Ludwig", "van Beethoven")). "Lovelace, Ada" is read as last-comma-first. Leading
    honorifics are dropped. One word gives (word, None); nothing gives (None, None).
    """
    if value is None:
        return None, None
    text = " ".join(value.split())
    if text.count(",") == 1:
        last, first = (part.strip() for part in text.split(","))
        if first and last and " " not in last:
            return first, last
    words = text.split(" ") if text else []
    while len(words) > 1 and words[0].rstrip(".").casefold() in _HONORIFICS:
        words.pop(0)
    if not words:
        return None, None
    return words[0], (" ".join(words[1:]) or None)


# --- phone ---------------------------------------------------------------------------------

_E164 = phonenumbers.PhoneNumberFormat.E164


def normalize_phone(value: str, *, region_hint: str | None = None) -> str:
    """Phone → E.164 ("+442079460958"), gated on phonenumbers.is_valid_number.

    Apollo prefixes phones with an apostrophe so Excel keeps them as text ("'+44 20 7946
    0958"); that is stripped. `region_hint` is a country name or code ("United Kingdom",
    "GB") and is needed only for numbers written without "+". Extensions are dropped, as
    E.164 has no place for them.
    """
    text = str(value).strip().lstrip("'\u2019").strip()
    if not text:
        raise ValueRejected("not a valid phone number: it is empty")
    region = region_for_country(region_hint) if region_hint else None
    ok, result = _phone_e164(text, region)
    if not ok:
        raise ValueRejected(result)
    return result


@functools.lru_cache(maxsize=8192)
def _phone_e164(text: str, region: str | None) -> tuple[bool, str]:
    """(True, E.164) or (False, reason). Cached: Apollo's Corporate Phone is the company
    switchboard, repeated for every contact of a company; parsing costs ~25 µs.
    """
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            if text.startswith(("+", "00")):
                return False, "not a valid phone number: the country code after + does not exist"
            return False, (
                "not a valid phone number: it has no +country code and the record's country "
                "is missing or unknown"
            )
        return False, "not a valid phone number: it does not look like one"
    # is_possible_number only checks the length; "555-2671" is possible in the US but not a
    # number anyone can dial, so gate on validity (docs/reference/libraries.md#phone-numbers). Checking the
    # country code's main region first gives the same answer as is_valid_number for most
    # numbers without its search through every region sharing the code (+44: GB, GG, IM, JE).
    main_region = phonenumbers.region_code_for_country_code(number.country_code)
    if not (
        phonenumbers.is_valid_number_for_region(number, main_region)
        or phonenumbers.is_valid_number(number)
    ):
        where = phonenumbers.region_code_for_number(number)
        if not where or where == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY:
            where = f"+{number.country_code}"
        return False, f"not a valid phone number for {where}: wrong length or digits"
    return True, phonenumbers.format_number(number, _E164)


# --- dates ---------------------------------------------------------------------------------

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Two different defaults reveal which parts dateutil filled in by itself (see below).
_DEFAULT_A = datetime(2000, 1, 1, 0, 0, 0)  # noqa: DTZ001 - naive on purpose: defaults only
_DEFAULT_B = datetime(2001, 2, 2, 1, 0, 0)  # noqa: DTZ001


def normalize_date(value: str | date, *, dayfirst: bool = False) -> str:
    """Date → "YYYY-MM-DD"; datetime → UTC "YYYY-MM-DDTHH:MM:SS.sssZ" (HubSpot's format).

    The field mapping says whether the source writes days first; it is never guessed per
    row (03/05/2024 is 5 March or 3 May depending on the tool). Datetimes without an offset
    are taken as UTC.
    """
    if isinstance(value, datetime):
        return _utc_iso(value)
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    if not text:
        raise ValueRejected("not a valid date: it is empty")
    if len(text) == 10 and _ISO_DATE.fullmatch(text):
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise ValueRejected("not a valid date: no such day in the calendar") from None
    try:
        # Fast, strict path for machine-written timestamps (Apollo: 2026-03-18T22:36:33+00:00).
        return _utc_iso(datetime.fromisoformat(text))
    except ValueError:
        pass
    try:
        first = date_parser.parse(text, dayfirst=dayfirst, default=_DEFAULT_A)
        second = date_parser.parse(text, dayfirst=dayfirst, default=_DEFAULT_B)
    except (ValueError, OverflowError):
        raise ValueRejected("not a valid date: the format is not recognised") from None
    # dateutil silently fills missing parts from its default ("March 2024" → day 1, or today
    # with no default). Parsing twice with different defaults shows what was really written.
    if first.date() != second.date():
        raise ValueRejected("not a valid date: the day, month or year is missing")
    if first.hour != second.hour:  # no hour written: a plain date
        return first.date().isoformat()
    return _utc_iso(first)


def _utc_iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
