"""The preview's email check and the HubSpot sandbox follow one rule, HubSpot's: RFC 2822 with
an unquoted ASCII local part, a domain (internationalized or not) ending in an IANA top-level
domain (docs/connections.md, "Email addresses"). So a row the preview counts as valid is one
HubSpot takes, and the others become dead letters at transform, never batch rejections."""

from __future__ import annotations

import pytest

from quality.errors import ValueRejected
from quality.normalize import normalize_email
from sandbox.hubspot.schema import email_is_valid

ACCEPTED = [
    "jane.doe@acme.com",
    "jane+newsletter@acme.com",  # plus-addressing is RFC 2822 atext
    "o'brien@acme.ie",
    "x@test.design",  # long generic TLDs, as HubSpot staff showed
    "sales@beispiel.vegas",
    "user@email.삼성",  # HubSpot's own example of a Unicode TLD
    "info@münchen.de",  # an internationalized domain
]
REFUSED = [
    "zoë.müller@beispiel-gmbh.de",  # non-ASCII local part: not RFC 2822
    '"Test Email"@hubspot.com',  # quoted local part
    "tb.tb@yahoo.comtttt",  # not an IANA TLD (the community thread's example)
    "jane@acme.test",  # reserved, not delegated
    "jane@localhost",
    "no-at-sign.example.com",
    "a..b@acme.com",
]


@pytest.mark.parametrize("address", ACCEPTED)
def test_hubspot_accepts_and_so_does_the_preview(address):
    assert email_is_valid(address)
    assert normalize_email(address)


@pytest.mark.parametrize("address", REFUSED)
def test_hubspot_refuses_and_so_does_the_preview(address):
    assert not email_is_valid(address)
    with pytest.raises(ValueRejected):
        normalize_email(address)


def test_the_refusal_of_an_internationalized_local_part_does_not_repeat_it():
    with pytest.raises(ValueRejected) as refused:
        normalize_email("zoë.müller@beispiel-gmbh.de")
    assert "zoë" not in refused.value.reason
