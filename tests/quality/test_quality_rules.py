"""Quality rules and metrics as pure functions: each check, the interval, the sample sizes."""

from __future__ import annotations

from datetime import date

import pytest

from quality.metrics import duplication_rate, sample_size, wilson_interval
from quality.rules import RuleSpec, rule_violations

TODAY = date(2026, 12, 2)


@pytest.mark.parametrize(
    ("spec", "values", "message"),
    [
        (RuleSpec("phone", "required"), {"phone": "  "}, "phone is required"),
        (RuleSpec("phone", "required"), {"phone": "n/a"}, "phone is required"),
        (RuleSpec("phone", "format", format="phone_e164"), {"phone": "650 253 0000"}, "E.164"),
        (RuleSpec("website", "format", format="url"), {"website": "acme.com"}, "http"),
        (RuleSpec("website", "format", format="url"), {"website": "ftp://acme.com"}, "http"),
        (RuleSpec("email", "format", format="email"), {"email": "a@b"}, "valid email"),
        (RuleSpec("d", "format", format="iso_date"), {"d": "31/12/2024"}, "ISO date"),
        (RuleSpec("n", "range", min_value=1, max_value=1e6), {"n": "0"}, "outside 1–1e+06"),
        (RuleSpec("n", "range", min_value=1, max_value=1e6), {"n": "many"}, "not a number"),
        (RuleSpec("d", "date_range"), {"d": "2027-01-01"}, "in the future"),
        (RuleSpec("d", "date_range"), {"d": "1899-12-31"}, "before 1900"),
        (
            RuleSpec("lifecyclestage", "allowed", allowed=frozenset({"lead", "customer"})),
            {"lifecyclestage": "friend"},
            "not one of the allowed values",
        ),
        (
            RuleSpec(
                "closedate", "required_when", when_field="lifecyclestage", when_value="customer"
            ),
            {"lifecyclestage": "Customer", "closedate": ""},
            "closedate is required when lifecyclestage is customer",
        ),
    ],
)
def test_a_broken_rule_names_the_field_and_why(spec, values, message):
    [violation] = rule_violations(values, [spec], today=TODAY)
    assert violation["target"] == spec.field
    assert message in violation["message"]
    assert violation["severity"] == "error"


@pytest.mark.parametrize(
    ("spec", "values"),
    [
        (RuleSpec("phone", "format", format="phone_e164"), {"phone": "+16502530000"}),
        (
            RuleSpec("phone", "format", format="phone_e164"),
            {"phone": ""},
        ),  # empty: not format's job
        (RuleSpec("website", "format", format="url"), {"website": "https://acme.com/x"}),
        (RuleSpec("n", "range", min_value=1, max_value=1e6), {"n": "1,000,000"}),
        (RuleSpec("d", "date_range"), {"d": "2026-12-02"}),
        (
            RuleSpec(
                "closedate", "required_when", when_field="lifecyclestage", when_value="customer"
            ),
            {"lifecyclestage": "lead", "closedate": ""},
        ),
    ],
)
def test_a_kept_rule_says_nothing(spec, values):
    assert rule_violations(values, [spec], today=TODAY) == []


def test_wilson_interval_and_sample_sizes_match_the_documented_values():
    interval = wilson_interval(48, 50)
    assert (round(interval.low, 3), round(interval.high, 3)) == (0.865, 0.989)
    perfect = wilson_interval(30, 30)
    assert (round(perfect.low, 3), perfect.high) == (0.886, 1.0)
    assert sample_size(0.10) == 97
    assert sample_size(0.05) == 385
    assert sample_size(0.05, population=1000) == 278
    assert wilson_interval(0, 0).rate is None


def test_duplication_counts_extra_copies():
    assert duplication_rate(["a", "a", "a", "b", "b", "c", "", None]) == (50.0, 2)
    assert duplication_rate(["", None]) == (None, 0)
