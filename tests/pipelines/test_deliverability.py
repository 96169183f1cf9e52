"""The optional MX check: stubbed at the DNS boundary (email-validator's lookup), cached per domain."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from email_validator import EmailUndeliverableError

from pipelines.models import DeadLetter
from pipelines.services import deliverability
from tests.pipelines.conftest import assert_invariant, contact_rows, import_rows, sandbox_emails


@pytest.fixture
def dns(monkeypatch):
    """nomail-corp.com has no mail server; every lookup is counted."""
    lookups: list[str] = []

    def validate_email(address, *, check_deliverability, timeout):
        domain = address.rpartition("@")[2]
        lookups.append(domain)
        if domain == "nomail-corp.com":
            raise EmailUndeliverableError(f"The domain name {domain} does not accept email.")

    cache.clear()
    monkeypatch.setattr(deliverability, "validate_email", validate_email)
    yield lookups
    cache.clear()


def test_with_mx_check_on_an_undeliverable_domain_is_dead_lettered_and_nothing_else(
    workflow, sandbox, dns
):
    workflow.mx_check = True
    workflow.save(update_fields=["mx_check"])
    rows = contact_rows(3) + contact_rows(2, start=10, Email="")
    rows[3]["Email"], rows[4]["Email"] = "ann@nomail-corp.com", "bob@nomail-corp.com"

    run = import_rows(workflow, rows)

    assert_invariant(run)
    assert (run.succeeded, run.dead_lettered) == (3, 2)
    letters = DeadLetter.objects.filter(run=run)
    assert [letter.category for letter in letters] == ["validation", "validation"]
    assert all("does not accept mail" in " ".join(letter.errors) for letter in letters)
    assert sorted(sandbox_emails(sandbox)) == [f"person{i}@acme-analytics.com" for i in range(3)]
    # One lookup per domain, not per record: the second domain lookup came from the cache.
    assert sorted(dns) == ["acme-analytics.com", "nomail-corp.com"]


def test_without_mx_check_no_lookup_is_made(workflow, sandbox, dns):
    run = import_rows(workflow, contact_rows(2))
    assert run.succeeded == 2
    assert dns == []


def test_a_resolver_failure_does_not_reject_the_address(monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("resolver unreachable")

    cache.clear()
    monkeypatch.setattr(deliverability, "validate_email", broken)
    assert deliverability.email_domain_accepts_mail(domain="example.org") is True
