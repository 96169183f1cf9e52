"""`workflows:` in configuration as code: the documented example applies, twice changes
nothing, a changed mapping is a new version, errors name the line and the key path."""

from __future__ import annotations

import pytest

from integrations.config_sections import ConfigError
from integrations.models import AuthType, Provider
from pipelines.configuration import config_apply, config_export
from pipelines.models import FieldMappingVersion, Workflow
from tests.integrations.factories import ConnectionFactory

pytestmark = pytest.mark.django_db

EXAMPLE = """
workflows:
  - slug: clay-to-hubspot
    type: clay_hubspot_contacts
    source: clay-inbound
    destination: {connection: hubspot-main, object: contacts, match_on: email}
    notify: {slack: null}
    mapping:
      - {from: "Email", to: email, transforms: [strip, lower], required: true}
      - {from: "First Name", to: firstname, transforms: [strip]}
      - {from: "Last Name", to: lastname, transforms: [strip]}
      - {from: "Company Name", to: company, transforms: [strip]}
      - {from: "Job Title", to: jobtitle, transforms: [strip]}
      - {from: "Phone", to: phone, transforms: [e164]}
      - {from: "Country", to: country, transforms: [strip]}
      - {from: "Website", to: website, transforms: [url]}
      - {from: "LinkedIn URL", to: hs_linkedin_url, transforms: [url]}
"""


@pytest.fixture
def connections(db):
    ConnectionFactory(name="hubspot-main")
    ConnectionFactory(name="clay-inbound", provider=Provider.CLAY, auth_type=AuthType.HEADER_TOKEN)


def test_the_example_applies_and_applying_twice_changes_nothing(connections):
    changes = config_apply(text=EXAMPLE)

    workflow = Workflow.objects.get(slug="clay-to-hubspot")
    assert changes == [
        "workflow clay-to-hubspot: created",
        "workflow clay-to-hubspot: mapping version 1",
    ]
    assert workflow.source_connection.name == "clay-inbound"
    assert workflow.match_on == "email"
    assert workflow.mapping_versions.get().rules[5] == {
        "from": "Phone",
        "to": "phone",
        "transforms": ["e164"],
        "required": False,
    }
    assert config_apply(text=EXAMPLE) == []
    assert FieldMappingVersion.objects.count() == 1


def test_a_changed_mapping_creates_a_new_version_and_keeps_the_old(connections):
    config_apply(text=EXAMPLE)

    changes = config_apply(
        text=EXAMPLE.replace(
            '[strip]}\n      - {from: "Last', '[strip, title]}\n      - {from: "Last'
        )
    )

    assert changes == ["workflow clay-to-hubspot: mapping version 2"]
    assert list(FieldMappingVersion.objects.values_list("version", flat=True)) == [2, 1]


def test_export_round_trips(connections):
    config_apply(text=EXAMPLE)
    exported = config_export()

    assert "clay-to-hubspot" in exported
    assert config_apply(text=exported) == []


@pytest.mark.parametrize(
    ("broken", "line", "message"),
    [
        (
            EXAMPLE.replace("source: clay-inbound", "source: nowhere"),
            5,
            "workflows[0].source: no connection named 'nowhere'",
        ),
        (EXAMPLE.replace("[e164]", "[e165]"), 14, "workflows[0].mapping[5]: Rule 1 (Phone"),
        (EXAMPLE.replace("[e164]", "[e165]"), 14, "unknown transform 'e165'"),
        (
            EXAMPLE.replace("source: clay-inbound", "source: hubspot-main"),
            5,
            "connection 'hubspot-main' is a hubspot connection, expected clay",
        ),
        (
            EXAMPLE.replace("object: contacts,", "object: contacts, table: x,"),
            6,
            "workflows[0].destination.table: unknown key",
        ),
        (EXAMPLE.replace("notify: {slack: null}", "enabled: maybe"), 7, "workflows[0].enabled"),
        (
            EXAMPLE.replace("notify: {slack: null}", "warehouse: {connection: nowhere}"),
            7,
            "workflows[0].warehouse.connection: no connection named 'nowhere'",
        ),
    ],
)
def test_errors_name_the_line_and_change_nothing(connections, broken, line, message):
    with pytest.raises(ConfigError) as error:
        config_apply(text=broken)

    assert error.value.line == line
    assert message in str(error.value)
    assert not Workflow.objects.exists()
