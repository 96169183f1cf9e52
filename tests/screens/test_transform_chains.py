"""Transform chains as a person writes them: natural forms are read, JSON still works, and a
mistake is named."""

from __future__ import annotations

import pytest
from django.urls import reverse

from pipelines.screens.transform_chains import ChainTextError, chain_from_text, chain_to_text
from pipelines.selectors import field_mapping_current
from tests.pipelines.factories import CLAY_RULES
from tests.screens.test_mapping_editor import rules_post

DEFAULT_UNKNOWN = [{"name": "default", "params": {"value": "Unknown"}}]


@pytest.mark.parametrize(
    ("text", "chain"),
    [
        ("default: Unknown", DEFAULT_UNKNOWN),
        ("default(Unknown)", DEFAULT_UNKNOWN),
        ('[{"name": "default", "params": {"value": "Unknown"}}]', DEFAULT_UNKNOWN),
        ("strip, lower", ["strip", "lower"]),
        (
            "map_values(Hot → OPEN; Cold -> UNQUALIFIED), strip",
            [
                {
                    "name": "map_values",
                    "params": {"mapping": {"Hot": "OPEN", "Cold": "UNQUALIFIED"}},
                },
                "strip",
            ],
        ),
        ("iso_date(dayfirst)", [{"name": "iso_date", "params": {"dayfirst": True}}]),
        ("truncate(100)", [{"name": "truncate", "params": {"length": 100}}]),
        ("e164(region=GB)", [{"name": "e164", "params": {"region": "GB"}}]),
    ],
)
def test_natural_forms_are_read(text, chain):
    assert chain_from_text(text) == chain
    assert chain_from_text(chain_to_text(chain)) == chain


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("defualt(x)", "unknown transform “defualt”"),
        ("truncate(ten)", "“ten” is not a whole number"),
        ("strip(x)", "strip takes no value"),
        ("map_values(Hot)", "“Hot” is not a replacement"),
    ],
)
def test_mistakes_are_named(text, message):
    with pytest.raises(ChainTextError, match=message):
        chain_from_text(text)


@pytest.mark.django_db
def test_the_editor_saves_a_typed_default(client, admin_user, workflow):
    client.force_login(admin_user)
    data = rules_post(CLAY_RULES)
    data["rules-4-transforms"] = "strip, default: Unknown"

    response = client.post(reverse("switchyard:mapping", args=[workflow.pk]), data)

    assert response.status_code == 302
    rules = {r["to"]: r for r in field_mapping_current(workflow=workflow).rules}
    assert rules["jobtitle"]["transforms"] == ["strip", *DEFAULT_UNKNOWN]
