from __future__ import annotations

import pytest

from quality.columns import header_key, match_columns
from quality.validation import MappingRule

APOLLO_HEADERS = [
    "First Name",
    "Last Name",
    "Title",
    "Company",
    "Company Name for Emails",
    "Email",
    "Email Status",
    "Work Direct Phone",
    "Mobile Phone",
    "Corporate Phone",
    "# Employees",
    "Person Linkedin Url",
    "Website",
    "Country",
    "Company Country",
    "Apollo Contact Id",
    "AI custom field 2656",
]


def rules(*sources: str, required: tuple[str, ...] = ()) -> list[MappingRule]:
    return [MappingRule(s, header_key(s), [], required=s in required) for s in sources]


@pytest.mark.parametrize(
    ("rule_source", "header"),
    [
        ("Email", "email"),
        ("Email", " E-MAIL "),
        ("First Name", "first_name"),
        ("First Name", "FirstName"),
        ("Email", "Work Email"),
        ("Email", "Email Address"),
        ("Work Email", "Email"),
        ("LinkedIn URL", "Person Linkedin Url"),
        ("LinkedIn URL", "LinkedIn Profile"),
        ("Person Linkedin Url", "LinkedIn URL"),
        ("Employees", "# Employees"),
        ("Number of Employees", "# Employees"),
        ("# Employees", "Employee Count"),
        ("Company", "Company Name"),
        ("Company Name", "Company"),
        ("Title", "Job Title"),
        ("Website", "Company Website"),
        ("Phone", "Work Direct Phone"),
        ("Phone", "Corporate Phone"),
        ("Phone", "Mobile Phone"),
        ("Apollo Contact Id", "Apollo Contact ID"),
        ("Website", "Company Domain"),
    ],
)
def test_headers_match_ignoring_case_punctuation_and_known_aliases(rule_source, header):
    match = match_columns([header, "Something Else"], rules(rule_source))
    assert match.matched == {rule_source: header}
    assert match.unmapped_headers == ["Something Else"]


@pytest.mark.parametrize(
    ("rule_source", "header"),
    [
        ("Mobile Phone", "Corporate Phone"),  # fallbacks are one-way
        ("Corporate Phone", "Mobile Phone"),
        ("Company Country", "Country"),
        ("Email", "Email Status"),
        ("Company", "Company Name for Emails Status"),
    ],
)
def test_different_fields_do_not_match(rule_source, header):
    assert match_columns([header], rules(rule_source)).matched == {}


def test_an_apollo_export_matches_a_generic_contact_mapping():
    mapping = rules(
        "Email",
        "First Name",
        "Last Name",
        "Job Title",
        "Company Name",
        "Phone",
        "Mobile Phone",
        "Employees",
        "LinkedIn URL",
        "Website",
        "Country",
        required=("Email",),
    )
    match = match_columns(APOLLO_HEADERS, mapping)
    assert match.matched == {
        "Email": "Email",
        "First Name": "First Name",
        "Last Name": "Last Name",
        "Job Title": "Title",
        "Company Name": "Company",
        "Phone": "Work Direct Phone",  # the best remaining phone, not the mobile
        "Mobile Phone": "Mobile Phone",
        "Employees": "# Employees",
        "LinkedIn URL": "Person Linkedin Url",
        "Website": "Website",
        "Country": "Country",
    }
    assert match.missing_required == []
    assert match.unmapped_headers == [
        "Company Name for Emails",
        "Email Status",
        "Corporate Phone",
        "Company Country",
        "Apollo Contact Id",
        "AI custom field 2656",
    ]


def test_a_clay_export_matches_a_generic_contact_mapping():
    headers = [
        "Full Name",
        "Job Title",
        "Company Name",
        "Company Domain",
        "LinkedIn Profile",
        "Work Email",
        "Location",
        "Employee Count",
    ]
    mapping = rules(
        "Email", "Full Name", "Title", "Company", "Website", "LinkedIn URL", "Employees"
    )
    match = match_columns(headers, mapping)
    assert match.matched == {
        "Email": "Work Email",
        "Full Name": "Full Name",
        "Title": "Job Title",
        "Company": "Company Name",
        "Website": "Company Domain",
        "LinkedIn URL": "LinkedIn Profile",
        "Employees": "Employee Count",
    }
    assert match.unmapped_headers == ["Location"]


def test_exact_header_beats_an_alias_for_another_rule():
    match = match_columns(["Company", "Company Name"], rules("Company Name", "Company"))
    assert match.matched == {"Company Name": "Company Name", "Company": "Company"}


def test_each_header_is_used_once():
    match = match_columns(["Work Email"], rules("Email", "Email Address"))
    assert list(match.matched.values()) == ["Work Email"]
    assert match.missing_optional == ["Email Address"]


def test_missing_required_and_optional_columns_are_listed():
    match = match_columns(
        ["First Name"], rules("Email", "First Name", "Phone", required=("Email",))
    )
    assert match.missing_required == ["Email"]
    assert match.missing_optional == ["Phone"]


def test_unknown_headers_are_kept_for_extras_in_file_order():
    match = match_columns(["Zeta", "Email", "Alpha"], rules("Email"))
    assert match.unmapped_headers == ["Zeta", "Alpha"]
