from __future__ import annotations

import pytest

from quality.errors import ValueRejected
from quality.transforms import TRANSFORMS, apply_chain, compile_chain, validate_chain


def test_every_transform_has_a_description_for_the_mapping_editor():
    expected = {
        "strip",
        "lower",
        "upper",
        "title",
        "e164",
        "iso_date",
        "url",
        "domain",
        "email",
        "map_values",
        "default",
        "split_name",
        "truncate",
        "empty_to_null",
    }
    assert expected <= set(TRANSFORMS)
    for name, spec in TRANSFORMS.items():
        assert spec.name == name
        assert spec.description


@pytest.mark.parametrize(
    ("value", "chain", "context", "expected"),
    [
        ("  Ada  ", ["strip"], {}, "Ada"),
        ("Ada", ["lower"], {}, "ada"),
        ("gb", ["strip", "upper"], {}, "GB"),
        ("ADA LOVELACE", ["title"], {}, "Ada Lovelace"),
        ("020 7946 0958", ["e164"], {"country": "United Kingdom"}, "+442079460958"),
        ("'+44 20 7946 0958", ["e164"], {}, "+442079460958"),
        ("020 7946 0958", [{"name": "e164", "params": {"region": "GB"}}], {}, "+442079460958"),
        ("03/05/2024", ["iso_date"], {}, "2024-03-05"),
        ("03/05/2024", [{"name": "iso_date", "params": {"dayfirst": True}}], {}, "2024-05-03"),
        ("acme.com/", ["url"], {}, "https://acme.com"),
        ("https://www.Acme.co.uk/about", ["domain"], {}, "acme.co.uk"),
        (" ADA@Example.com ", ["strip", "email"], {}, "ada@example.com"),
        ("Ada Lovelace", [{"name": "split_name", "params": {"part": "first"}}], {}, "Ada"),
        ("Ada Lovelace", [{"name": "split_name", "params": {"part": "last"}}], {}, "Lovelace"),
        ("Analytical", [{"name": "truncate", "params": {"length": 4}}], {}, "Anal"),
        ("   ", ["empty_to_null"], {}, None),
        (42, ["strip"], {}, "42"),  # webhook numbers are treated as their text
    ],
)
def test_named_transforms(value, chain, context, expected):
    assert apply_chain(value, chain, context) == expected


@pytest.mark.parametrize("name", sorted(set(TRANSFORMS) - {"default"}))
def test_every_transform_except_default_passes_none_through(name):
    params = {
        "map_values": {"mapping": {"a": "b"}},
        "split_name": {"part": "first"},
        "truncate": {"length": 3},
    }.get(name, {})
    assert apply_chain(None, [{"name": name, "params": params}], {}) is None


@pytest.mark.parametrize(
    ("value", "expected"), [(None, "lead"), ("customer", "customer"), ("", "")]
)
def test_default_fills_only_none(value, expected):
    assert apply_chain(value, [{"name": "default", "params": {"value": "lead"}}]) == expected


STATUS = {"mapping": {"Verified": "verified", "Guessed": "guessed"}}


@pytest.mark.parametrize(
    ("value", "params", "expected"),
    [
        ("Verified", STATUS, "verified"),
        ("verified ", STATUS, "verified"),  # case- and space-insensitive fallback
        ("GUESSED", STATUS, "guessed"),
        ("Unavailable", {**STATUS, "default": "unknown"}, "unknown"),
        ("Unavailable", {**STATUS, "default": None}, None),
    ],
)
def test_map_values_translates_known_values_and_uses_default_for_unknown(value, params, expected):
    assert apply_chain(value, [{"name": "map_values", "params": params}]) == expected


def test_map_values_without_default_rejects_unknown_values():
    with pytest.raises(ValueRejected, match="'Unavailable' is not one of the values"):
        apply_chain("Unavailable", [{"name": "map_values", "params": STATUS}])


def test_transform_errors_raise_value_rejected():
    with pytest.raises(ValueRejected, match="not a valid email address"):
        apply_chain("ada.lovelace", ["strip", "email"])


def test_phone_without_country_context_is_rejected():
    with pytest.raises(ValueRejected, match="no \\+country code"):
        apply_chain("020 7946 0958", ["e164"], {})


@pytest.mark.parametrize(
    "chain",
    [
        [],
        ["strip", "lower", "email"],
        [{"name": "strip"}],
        [{"name": "map_values", "params": {"mapping": {"a": "b"}, "default": None}}],
        [{"name": "default", "params": {"value": None}}],
        [{"name": "truncate", "params": {"length": 255}}],
        [{"name": "iso_date", "params": {"dayfirst": True}}],
    ],
)
def test_valid_chains_have_no_errors(chain):
    assert validate_chain(chain) == []


@pytest.mark.parametrize(
    ("chain", "expected_errors"),
    [
        (["strip", "lowercase"], ["Step 2: unknown transform 'lowercase'."]),
        (["map_values"], ["Step 1 (map_values): missing parameter 'mapping'."]),
        ([{"name": "default"}], ["Step 1 (default): missing parameter 'value'."]),
        (
            [{"name": "truncate", "params": {"length": "ten"}}],
            ["Step 1 (truncate): needs 'length'"],
        ),
        ([{"name": "truncate", "params": {"length": 0}}], ["Step 1 (truncate): needs 'length'"]),
        (
            [{"name": "split_name", "params": {"part": "middle"}}],
            ["Step 1 (split_name): needs 'part'"],
        ),
        (
            [{"name": "map_values", "params": {"mapping": {}}}],
            ["Step 1 (map_values): needs 'mapping'"],
        ),
        (
            [{"name": "strip", "params": {"chars": "x"}}],
            ["Step 1 (strip): unknown parameter 'chars'."],
        ),
        ([{"params": {}}], ["Step 1: must be a transform name"]),
        ([{"name": "strip", "params": "x"}], ["Step 1 (strip): params must be a table"]),
        ("strip", ["Transforms must be a list."]),
    ],
)
def test_validate_chain_explains_each_problem(chain, expected_errors):
    errors = validate_chain(chain)
    assert len(errors) == len(expected_errors)
    for error, expected in zip(errors, expected_errors, strict=True):
        assert error.startswith(expected)


def test_validate_chain_reports_every_problem_not_just_the_first():
    errors = validate_chain(["nope", {"name": "default"}, {"name": "truncate"}, "also_nope"])
    assert [e.split(":")[0] for e in errors] == [
        "Step 1",
        "Step 2 (default)",
        "Step 3 (truncate)",
        "Step 4",
    ]


def test_unknown_transform_error_lists_the_known_ones():
    (error,) = validate_chain(["lowercase"])
    assert "lower" in error
    assert "e164" in error


def test_compiling_an_invalid_chain_raises_with_every_problem():
    with pytest.raises(ValueError, match="unknown transform 'nope'.*missing parameter 'value'"):
        compile_chain(["nope", {"name": "default"}])
