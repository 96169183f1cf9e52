"""Country names and codes → ISO 3166-1 alpha-2, for phone region hints.

Exports carry the country in whatever form the source tool chose: Apollo writes
"United Kingdom", Clay users write "UK", HubSpot stores what was typed. phonenumbers needs
an ISO2 region ("GB") to parse numbers written without "+".
"""

from __future__ import annotations

import functools
import re

import phonenumbers

# Names RevOps data actually contains, including the non-ISO ones ("UK", "USA", "Holland").
# Anything not here falls back to phonenumbers' own English region names (below).
_NAMES_BY_REGION: dict[str, tuple[str, ...]] = {
    "US": ("united states", "united states of america", "usa", "u s", "u s a", "america"),
    "GB": (
        "united kingdom",
        "uk",
        "u k",
        "great britain",
        "britain",
        "england",
        "scotland",
        "wales",
        "northern ireland",
        "gbr",
        "united kingdom of great britain and northern ireland",
    ),
    "CA": ("canada", "can"),
    "AU": ("australia", "aus"),
    "NZ": ("new zealand",),
    "IE": ("ireland", "republic of ireland"),
    "DE": ("germany", "deutschland", "deu"),
    "FR": ("france", "fra"),
    "ES": ("spain", "espana", "españa"),
    "IT": ("italy", "italia"),
    "NL": ("netherlands", "the netherlands", "holland", "nld"),
    "CH": ("switzerland", "schweiz", "suisse"),
    "CZ": ("czech republic", "czechia"),
    "TR": ("turkey", "türkiye", "turkiye"),
    "AE": ("united arab emirates", "uae"),
    "IN": ("india", "ind"),
    "KR": ("south korea", "korea", "republic of korea"),
    "VN": ("vietnam", "viet nam"),
    "BR": ("brazil", "brasil"),
    "MX": ("mexico", "méxico"),
    "RU": ("russia", "russian federation"),
}
_COMMON_NAMES: dict[str, str] = {
    name: region for region, names in _NAMES_BY_REGION.items() for name in names
}

_NON_WORD = re.compile(r"[^\w]+")


def _key(value: str) -> str:
    # "U.S.A." / "u.s.a" / "USA" all become one key; underscores count as separators too.
    text = value.casefold().replace("&", " and ")
    return _NON_WORD.sub(" ", text).replace("_", " ").strip()


@functools.cache
def _english_region_names() -> dict[str, str]:
    """phonenumbers' English region display names, e.g. "bosnia & herzegovina" → "BA".

    Loaded lazily because the module is large (~0.2 s to import), and optional because
    phonenumberslite does not ship it
    (https://github.com/daviddrysdale/python-phonenumbers#python-phonenumbers).
    """
    try:
        from phonenumbers.geodata.locale import LOCALE_DATA
    except ImportError:  # phonenumberslite
        return {}
    names: dict[str, str] = {}
    for region, by_language in LOCALE_DATA.items():
        english = by_language.get("en", "")
        if english.startswith("*"):  # "*aa" means "same as the 'aa' entry"
            english = by_language.get(english[1:], "")
        if english and len(region) == 2:
            names.setdefault(_key(english), region)
    return names


@functools.lru_cache(maxsize=1024)
def region_for_country(value: str | None) -> str | None:
    """ISO2 region for a country name or code ("United Kingdom", "gb", "USA"), else None.

    Unknown countries give None rather than an error: the hint is optional, and a number
    written with "+<country code>" parses without it.
    """
    if not value:
        return None
    key = _key(value)
    if not key:
        return None
    if key in _COMMON_NAMES:
        return _COMMON_NAMES[key]
    upper = key.upper()
    if len(upper) == 2 and upper in phonenumbers.SUPPORTED_REGIONS:
        return upper
    return _english_region_names().get(key)
