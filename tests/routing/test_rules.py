"""The pure rule engine: each operator, named fields, first match wins, explanations."""

from __future__ import annotations

import pytest

from pipelines.routing.rules import (
    Lead,
    RuleError,
    RuleSpec,
    conditions_parse,
    field_value,
    rules_evaluate,
)


def lead(contact=None, company=None) -> Lead:
    return Lead("1", contact or {}, "2" if company else None, company or {})


def rule(position: int, territory: str, when: dict) -> RuleSpec:
    return RuleSpec(position, position, territory, conditions_parse(when))


EXAMPLE = [
    rule(1, "EMEA", {"country": {"in": ["GB", "DE", "FR", "NL", "ES", "IT", "IE", "SE"]}}),
    rule(2, "West", {"state": {"in": ["CA", "WA", "OR", "NV", "AZ", "CO", "UT"]}}),
    rule(3, "East", {"country": {"in": ["US", "CA"]}}),
]


@pytest.mark.parametrize(
    ("contact", "company", "territory"),
    [
        ({"country": "GB"}, {}, "EMEA"),
        ({"country": "United Kingdom"}, {}, "EMEA"),  # names and codes agree
        ({"country": "US", "state": "CA"}, {}, "West"),  # rule 2 before rule 3
        ({"country": "US", "state": "NY"}, {}, "East"),
        ({"country": "Canada"}, {}, "East"),
        ({}, {"country": "DE"}, "EMEA"),  # the company's country when the contact has none
        ({"country": "BR"}, {}, None),  # no match: the caller uses the fallback
    ],
)
def test_the_issue_example(contact, company, territory):
    chosen, _ = rules_evaluate(EXAMPLE, lead(contact, company))
    assert (chosen.territory if chosen else None) == territory


def test_first_match_wins_and_later_matches_are_reported():
    chosen, results = rules_evaluate(EXAMPLE, lead({"country": "US", "state": "CA"}))
    assert chosen.position == 2
    assert [(r.position, r.matched, r.chosen) for r in results] == [
        (1, False, False),
        (2, True, True),
        (3, True, False),
    ]
    assert (
        results[0].conditions[0].reason
        == "country 'US' is not in ['GB', 'DE', 'FR', 'NL', 'ES', 'IT', 'IE', 'SE']"
    )


@pytest.mark.parametrize(
    ("when", "contact", "company", "matched"),
    [
        ({"industry": "Software"}, {}, {"industry": "software"}, True),  # equals, case-insensitive
        ({"industry": {"equals": "Retail"}}, {}, {"industry": "Software"}, False),
        ({"domain": {"contains": "acme"}}, {}, {"domain": "www.acme.io"}, True),
        (
            {"domain": {"contains": "acme"}},
            {"hs_email_domain": "acme.com"},
            {},
            True,
        ),  # falls back to the e-mail domain
        (
            {"employee_count": {"range": {"min": 50, "max": 500}}},
            {},
            {"numberofemployees": "250"},
            True,
        ),
        ({"employee_count": {"range": {"min": 50}}}, {}, {"numberofemployees": "10"}, False),
        ({"employee_count": {"range": {"max": 50}}}, {}, {"numberofemployees": "n/a"}, False),
        ({"employee_count": {"range": {"min": 1}}}, {}, {}, False),  # empty never matches a range
        ({"company.industry": {"is_empty": True}}, {}, {}, True),
        ({"company.industry": {"is_empty": False}}, {}, {"industry": "Software"}, True),
        ({"contact.jobtitle": {"contains": "VP"}}, {"jobtitle": "VP Sales"}, {}, True),
        ({"region": "EMEA"}, {"country": "France"}, {}, True),
        ({"region": {"in": ["NA"]}}, {"country": "US"}, {}, True),
        ({"region": "APAC"}, {"country": "DE"}, {}, False),
        (
            {"country": "GB", "employee_count": {"range": {"min": 100}}},
            {"country": "GB"},
            {"numberofemployees": "50"},
            False,
        ),
        ({}, {}, {}, True),  # a catch-all
    ],
)
def test_operators(when, contact, company, matched):
    chosen, _ = rules_evaluate([rule(1, "T", when)], lead(contact, company))
    assert (chosen is not None) is matched


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ({"colour": "red"}, "unknown field 'colour'"),
        ({"country": {"near": "GB"}}, "unknown test 'near'"),
        ({"country": {"in": []}}, "`in` needs a non-empty list"),
        ({"employee_count": {"range": {"min": "many"}}}, "bounds must be numbers"),
        ({"employee_count": {"range": {}}}, "`range` needs `min` and/or `max`"),
        ({"industry": {"is_empty": "yes"}}, "`is_empty` takes true or false"),
        (["country"], "`when` must be a mapping"),
    ],
)
def test_invalid_conditions_say_what_is_wrong(when, message):
    with pytest.raises(RuleError, match=message.replace("[", r"\[").replace("(", r"\(")):
        conditions_parse(when)


def test_field_values_prefer_the_contact():
    both = lead({"country": "US"}, {"country": "DE"})
    assert field_value(both, "country") == "US"
    assert field_value(both, "company.country") == "DE"
