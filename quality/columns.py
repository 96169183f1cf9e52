"""Match a CSV's headers to a mapping's source columns, for the import wizard.

Apollo's headers are stable Title Case but differ from other tools' ("Person Linkedin Url",
"# Employees"); Clay's are whatever the user named them (docs/reference/apollo.md#csv-export, docs/reference/clay.md#csv-export). Matching
goes in three passes, each only over what earlier passes left, so a better match always wins:

1. same name, ignoring case, spaces and punctuation ("work email" = "Work-Email");
2. synonyms: names that mean the same thing ("Company" = "Company Name");
3. fallbacks: one-way substitutes, in order of preference ("Phone" may take "Work Direct
   Phone"; a "Mobile Phone" rule never takes "Corporate Phone").

The admin confirms the result on the sample preview; nothing here is final.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from quality.validation import MappingRule

# Each group lists names of one field; the order is the preference among headers.
_SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("Email", "Work Email", "Email Address", "Business Email", "Primary Email", "E-mail"),
    ("First Name", "Firstname", "Given Name", "Person First Name"),
    ("Last Name", "Lastname", "Surname", "Family Name", "Person Last Name"),
    ("Full Name", "Name", "Person Name", "Contact Name"),
    ("Title", "Job Title", "Position", "Role"),
    ("Company", "Company Name", "Account Name", "Organization", "Organization Name"),
    ("Website", "Company Website", "Website URL", "Company URL", "Company Website URL"),
    ("Domain", "Company Domain", "Website Domain"),
    (
        "LinkedIn URL",
        "Person Linkedin Url",
        "LinkedIn Profile",
        "LinkedIn",
        "LinkedIn Profile URL",
        "Linkedin Url",
    ),
    ("Company LinkedIn URL", "Company Linkedin Url", "Company LinkedIn"),
    (
        "Employees",
        "# Employees",
        "Number of Employees",
        "Employee Count",
        "Num Employees",
        "Headcount",
    ),
    ("Phone", "Phone Number", "Work Phone", "Direct Phone"),
    ("Mobile Phone", "Mobile", "Mobile Number", "Cell Phone", "Cell"),
    ("Country", "Person Country", "Country Name"),
    ("State", "Region", "State/Province", "Province"),
    ("City", "Person City", "Town"),
    ("Company Country", "Account Country", "Organization Country"),
    ("Industry", "Company Industry"),
    ("Annual Revenue", "Revenue", "Company Revenue"),
    ("Apollo Contact Id", "Apollo Contact ID", "Contact Id"),
    ("Apollo Account Id", "Apollo Account ID", "Account Id"),
    ("Seniority", "Seniority Level"),
    ("Departments", "Department"),
)

# One-way: a rule named on the left may use these headers when nothing better is there.
_FALLBACKS: dict[str, tuple[str, ...]] = {
    "Phone": ("Work Direct Phone", "First Phone", "Corporate Phone", "Mobile Phone", "Other Phone"),
    "Website": ("Company Domain", "Domain"),
    "Domain": ("Website", "Company Website"),
    "Full Name": ("Contact",),
    "Company": ("Company Name for Emails",),
}

_NOT_ALNUM = re.compile(r"[\W_]+")


def header_key(name: str) -> str:
    """Fold a header for comparison: "# Employees" → "employees"."""
    return _NOT_ALNUM.sub("", name.casefold())


_SYNONYM_GROUP: dict[str, tuple[str, ...]] = {}
for _group in _SYNONYMS:
    _keys = tuple(header_key(n) for n in _group)
    for _k in _keys:
        _SYNONYM_GROUP.setdefault(_k, _keys)
_FALLBACK_KEYS: dict[str, tuple[str, ...]] = {
    header_key(name): tuple(header_key(n) for n in alternatives)
    for name, alternatives in _FALLBACKS.items()
}


@dataclass(slots=True)
class ColumnMatch:
    matched: dict[str, str] = field(default_factory=dict)  # rule source → CSV header
    unmapped_headers: list[str] = field(default_factory=list)  # kept as extras
    missing_required: list[str] = field(default_factory=list)  # rule sources
    missing_optional: list[str] = field(default_factory=list)


def match_columns(
    headers: Sequence[str],
    rules: Sequence[MappingRule],
    aliases: Mapping[str, Sequence[str]] | None = None,
) -> ColumnMatch:
    """Pair each rule's source column with at most one header, and each header with one rule.
    ``aliases`` (rule source → headers an admin picked for it before) are tried right after
    the exact spelling, before any guess."""
    by_key: dict[str, str] = {}
    for header in headers:
        by_key.setdefault(header_key(header), header)  # first of duplicate headers wins
    taken: set[str] = set()
    match = ColumnMatch()
    sources = list(dict.fromkeys(rule.source for rule in rules))

    def candidates(source: str, stage: int) -> tuple[str, ...]:
        key = header_key(source)
        if stage == 1:
            return (key,)
        if stage == 2:
            return _SYNONYM_GROUP.get(key, ())
        return _FALLBACK_KEYS.get(_SYNONYM_GROUP.get(key, (key,))[0], ())

    exact = set(headers)
    for source in sources:  # stage 0: exact spelling beats any folded match
        if source in exact:
            match.matched[source] = source
            taken.add(source)
    for source in sources:  # the workflow's own aliases, remembered from the wizard
        if source in match.matched:
            continue
        for alias in (aliases or {}).get(source, ()):
            header = by_key.get(header_key(alias))
            if header is not None and header not in taken:
                match.matched[source] = header
                taken.add(header)
                break
    for stage in (1, 2, 3):
        for source in sources:
            if source in match.matched:
                continue
            for key in candidates(source, stage):
                header = by_key.get(key)
                if header is not None and header not in taken:
                    match.matched[source] = header
                    taken.add(header)
                    break

    match.unmapped_headers = [h for h in headers if h not in taken]
    for rule in rules:
        if rule.source in match.matched:
            continue
        missing = match.missing_required if rule.required else match.missing_optional
        if rule.source not in missing:
            missing.append(rule.source)
    if match.missing_required:
        # One required source may be listed as optional by another rule; required wins.
        match.missing_optional = [
            s for s in match.missing_optional if s not in match.missing_required
        ]
    return match
