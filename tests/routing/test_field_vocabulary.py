"""One field vocabulary across territory rules, scoring rules and the simulator."""

from __future__ import annotations

from pipelines.routing.rules import conditions_parse, lead_from_fields
from pipelines.routing.scoring import ScoringRuleSpec, score_by_rules


def _score(company: dict[str, str]) -> int:
    rule = ScoringRuleSpec(
        "Big company", 30, conditions_parse({"employee_count": {"range": {"min": 200}}})
    )
    return score_by_rules(rules=[rule], lead=lead_from_fields(contact={}, company=company)).value


def test_a_rule_on_a_named_field_fires_for_the_same_named_field_in_the_simulator():
    assert _score({"employee_count": "250"}) == 30
    assert _score({"numberofemployees": "250"}) == 30  # the HubSpot property still works
    assert _score({"company.numberofemployees": "250"}) == 30
    assert _score({"employee_count": "20"}) == 0


def test_named_fields_land_in_the_object_they_are_read_from():
    lead = lead_from_fields(
        contact={"lifecycle_stage": "lead", "industry": "Software", "contact.jobtitle": "CRO"},
        company={"domain": "acme.io"},
    )
    assert lead.contact == {"lifecyclestage": "lead", "jobtitle": "CRO"}
    assert lead.company == {"industry": "Software", "domain": "acme.io"}
