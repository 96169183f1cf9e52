"""The configuration file's schema engine: sections in a stated order, errors that name the
line and key path for every section, and the plain-validate API for sections without a schema."""

from __future__ import annotations

import pytest

from integrations.config_schema import ConfigError
from pipelines import configuration
from pipelines.configuration import Section, config_apply, config_export, section_register
from pipelines.models import RoutingConfig, Territory
from tests.routing.factories import HubSpotConnectionFactory

pytestmark = pytest.mark.django_db


def test_sections_run_in_the_stated_order():
    keys = [section.key for section in configuration.SECTIONS]
    assert keys[:4] == ["connections", "workflows", "territories", "routing"]


@pytest.fixture
def plain_section(monkeypatch):
    """A section registered the old way: a plain validate that raises ConfigError itself."""
    applied: list = []

    def validate(raw):
        if not isinstance(raw, list):
            raise ConfigError(None, "`notes` must be a list")
        return raw

    def apply(plans, *, actor_label):
        applied.extend(plans)
        return [f"note {p}" for p in plans]

    monkeypatch.setattr(configuration, "SECTIONS", list(configuration.SECTIONS))
    section_register(Section("notes", validate, apply, lambda: ["exported"]))
    return applied


def test_a_section_without_a_schema_still_validates_applies_and_exports(plain_section):
    assert config_apply(text="notes: [a, b]\n") == ["note a", "note b"]
    assert plain_section == ["a", "b"]
    assert "notes:\n- exported" in config_export()
    with pytest.raises(ConfigError, match="`notes` must be a list"):
        config_apply(text="notes: fast\n")


def test_an_unlisted_section_runs_after_the_listed_ones(plain_section):
    assert [s.key for s in configuration.SECTIONS][-1] == "notes"


ROUTING = """\
territories:
  - {name: East, owners: ["12345"]}
routing:
  workflow: mql-routing
  hubspot: hubspot-main
  deal_threshold: {broken}
  rules:
    - {territory: East, when: {country: {in: [US]}}}
"""


@pytest.mark.parametrize(
    ("threshold", "message"),
    [
        ("high", "line 6: routing.deal_threshold: Input should be a valid integer"),
        ("5000", "line 6: routing.deal_threshold: Input should be less than or equal to 1000"),
        ("[1]", "line 6: routing.deal_threshold: Input should be a valid integer"),
    ],
)
def test_a_single_routing_mapping_names_its_key_without_a_list_index(threshold, message):
    HubSpotConnectionFactory()

    with pytest.raises(ConfigError) as caught:
        config_apply(text=ROUTING.replace("{broken}", threshold))

    assert message in str(caught.value)
    assert not Territory.objects.exists()
    assert not RoutingConfig.objects.exists()


def test_a_routing_section_of_the_wrong_kind_is_refused():
    with pytest.raises(ConfigError, match="routing: must be a list"):
        config_apply(text="routing: fast\n")


def test_a_duplicate_territory_names_the_second_one():
    text = "territories:\n  - {name: East}\n  - {name: West}\n  - {name: East}\n"
    with pytest.raises(ConfigError) as caught:
        config_apply(text=text)
    assert caught.value.line == 4
    assert "territories[2].name: territory 'East' appears twice" in str(caught.value)
    assert not Territory.objects.exists()
