from __future__ import annotations

import pytest

from quality.validation import FieldError, MappingRule, apply_mapping

CONTACT_RULES = [
    MappingRule("Email", "email", ["strip", "email"], required=True),
    MappingRule("First Name", "firstname", ["strip", "title"]),
    MappingRule("Last Name", "lastname", ["strip", "title"], required=True),
    MappingRule("Phone", "phone", ["e164"]),
    MappingRule("Website", "domain", ["domain"]),
    MappingRule("Last Contacted", "last_contacted", ["iso_date"]),
]


def test_a_good_row_is_normalized_into_targets():
    row = {
        "Email": " Ada@Example.com ",
        "First Name": "ADA",
        "Last Name": "lovelace",
        "Phone": "'+44 20 7946 0958",
        "Website": "https://www.example.co.uk/about",
        "Last Contacted": "2026-03-18T22:36:33+00:00",
    }
    result = apply_mapping(row, CONTACT_RULES)
    assert result.ok
    assert result.errors == []
    assert result.values == {
        "email": "ada@example.com",
        "firstname": "Ada",
        "lastname": "Lovelace",
        "phone": "+442079460958",
        "domain": "example.co.uk",
        "last_contacted": "2026-03-18T22:36:33.000Z",
    }
    assert result.extras == {}


def test_every_error_is_reported_not_just_the_first():
    row = {
        "Email": "ada.lovelace@",
        "First Name": "Ada",
        "Last Name": "",
        "Phone": "555-2671",
        "Website": "not a website",
        "Last Contacted": "March 2024",
    }
    result = apply_mapping(row, CONTACT_RULES, context={"country": "US"})
    assert not result.ok
    assert [(e.source, e.target, e.code) for e in result.errors] == [
        ("Email", "email", "invalid"),
        ("Last Name", "lastname", "required"),
        ("Phone", "phone", "invalid"),
        ("Website", "domain", "invalid"),
        ("Last Contacted", "last_contacted", "invalid"),
    ]
    assert result.values["firstname"] == "Ada"  # good fields are still normalized
    assert "ada.lovelace" not in " ".join(e.message for e in result.errors)


@pytest.mark.parametrize("blank", ["", "   ", "\t"])
def test_empty_cells_become_explicit_none(blank):
    row = {"Email": "ada@example.com", "Last Name": "Lovelace", "First Name": blank, "Phone": blank}
    result = apply_mapping(row, CONTACT_RULES)
    assert result.ok
    assert result.values["firstname"] is None
    assert result.values["phone"] is None


def test_absent_optional_columns_are_left_out_so_loads_do_not_clear_them():
    result = apply_mapping({"Email": "ada@example.com", "Last Name": "Lovelace"}, CONTACT_RULES)
    assert result.ok
    assert "phone" not in result.values
    assert "firstname" not in result.values


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"Last Name": "Lovelace"}, "required, but is missing from the record"),
        ({"Email": "", "Last Name": "Lovelace"}, "required, but is empty"),
        ({"Email": "   ", "Last Name": "Lovelace"}, "required, but is empty"),
    ],
)
def test_required_field_missing_or_empty_is_a_required_error(row, message):
    result = apply_mapping(row, CONTACT_RULES)
    assert result.errors == [FieldError("Email", "email", "required", message)]
    assert result.values["email"] is None


def test_default_transform_fills_an_absent_column():
    rules = [
        MappingRule("Stage", "lifecyclestage", [{"name": "default", "params": {"value": "lead"}}])
    ]
    assert apply_mapping({}, rules).values == {"lifecyclestage": "lead"}


def test_unknown_columns_are_kept_as_extras_never_rejected():
    row = {
        "Email": "ada@example.com",
        "Last Name": "Lovelace",
        "AI custom field 2656": "High fit",
        "ICP Fit 8478 0723201923": "",
    }
    result = apply_mapping(row, CONTACT_RULES)
    assert result.ok
    assert result.extras == {"AI custom field 2656": "High fit", "ICP Fit 8478 0723201923": None}


@pytest.mark.parametrize(
    ("row", "context", "rules_extra", "expected"),
    [
        ({"Country": "United Kingdom"}, None, [], "+442079460958"),
        ({"Country": "GB"}, None, [], "+442079460958"),
        ({"Country": "United Kingdom"}, {"country": "US"}, [], "+442079460958"),  # row wins
        ({}, {"country": "GB"}, [], "+442079460958"),
        (
            {"Person Country": "uk"},
            None,
            [MappingRule("Person Country", "country", ["strip", "upper"])],
            "+442079460958",
        ),
    ],
)
def test_phone_region_comes_from_the_rows_country(row, context, rules_extra, expected):
    rules = [MappingRule("Phone", "phone", ["e164"]), *rules_extra]
    result = apply_mapping({"Phone": "020 7946 0958", **row}, rules, context=context)
    assert result.errors == []
    assert result.values["phone"] == expected


def test_country_rule_is_applied_before_phone_whatever_the_rule_order():
    rules = [
        MappingRule("Phone", "phone", ["e164"]),
        MappingRule(
            "Land", "country", [{"name": "map_values", "params": {"mapping": {"Blighty": "GB"}}}]
        ),
    ]
    result = apply_mapping({"Phone": "020 7946 0958", "Land": "Blighty"}, rules)
    assert result.values == {"country": "GB", "phone": "+442079460958"}


def test_columns_map_rule_sources_to_the_files_actual_headers():
    row = {"Work Email": "ada@example.com", "Surname": "Lovelace", "Phone": "'+44 20 7946 0958"}
    columns = {"Email": "Work Email", "Last Name": "Surname"}
    result = apply_mapping(row, CONTACT_RULES, columns=columns)
    assert result.ok
    assert result.values["email"] == "ada@example.com"
    assert result.values["lastname"] == "Lovelace"
    assert result.extras == {}


def test_several_rules_feeding_one_target_take_the_first_non_empty_value():
    rules = [
        MappingRule("Work Direct Phone", "phone", ["e164"]),
        MappingRule("Mobile Phone", "phone", ["e164"]),
    ]
    row = {"Work Direct Phone": "", "Mobile Phone": "'+44 7911 123456"}
    assert apply_mapping(row, rules).values == {"phone": "+447911123456"}


def test_company_rows_work_the_same_way():
    rules = [
        MappingRule("Website", "domain", ["domain"], required=True),
        MappingRule("Company", "name", ["strip"], required=True),
        MappingRule("# Employees", "numberofemployees", ["strip"]),
    ]
    row = {"Website": "https://www.Acme.co.uk/", "Company": " Acme ", "# Employees": "120"}
    result = apply_mapping(row, rules)
    assert result.values == {"domain": "acme.co.uk", "name": "Acme", "numberofemployees": "120"}


def test_field_error_serializes_for_the_dead_letter_queue():
    error = FieldError("Email", "email", "invalid", "not a valid email address: ...")
    assert error.as_dict() == {
        "source": "Email",
        "target": "email",
        "code": "invalid",
        "message": "not a valid email address: ...",
    }
    assert str(error) == "Email → email: not a valid email address: ..."


def test_a_rule_with_an_invalid_chain_fails_when_built_not_per_row():
    with pytest.raises(ValueError, match="unknown transform 'lowercase'"):
        MappingRule("Email", "email", ["lowercase"])
