"""A dead-lettered delivery is a letter in the dead-letter queue, like a pipeline record's:
reviewed there, edited field by field, redelivered one / a selection / all through the
delivery path with its idempotency key; every event adds up (docs/events.md, "Dead letters")."""

from __future__ import annotations

import csv
import io
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from audit.models import AuditEvent
from events.dead_letters import delivery_letters_file, letter_category
from events.delivery import subscriber_deliver
from events.models import Delivery, DeliveryLetter, Event, Subscriber
from events.selectors import event_tally
from events.services import events_emit
from pipelines.configuration import config_apply
from pipelines.models import DeadLetter
from pipelines.services.dead_letters import dead_letter_ignore, dead_letter_reprocess
from tests.events.conftest import DEAL_WON_YAML, deal_stage_event

pytestmark = pytest.mark.django_db

QUEUE = "switchyard:dead-letters"


def drain() -> None:
    for subscriber_id in Subscriber.objects.values_list("pk", flat=True):
        subscriber_deliver(subscriber_id=subscriber_id)


def won(hub, *, name: str = "Acme", event_id: int = 1) -> Event:
    """A deal without an amount is won: the finance API refuses its invoice (422)."""
    [deal] = hub.hubspot.sandbox.seed_objects("deals", [{"dealname": name}])
    events_emit(
        source="hubspot-main",
        payload=[deal_stage_event(deal_id=deal, stage="closedwon", event_id=event_id)],
    )
    drain()
    return Event.objects.get(object_id=str(deal))


@pytest.fixture
def fanout(hub):
    config_apply(text=DEAL_WON_YAML)
    return hub


def open_letters(event: Event):
    return DeadLetter.objects.filter(delivery_link__delivery__event=event, resolution="")


def test_a_refused_delivery_files_one_letter_in_the_queue_and_the_event_adds_up(fanout):
    event = won(fanout)

    invoice = Delivery.objects.get(event=event, subscriber__name="invoice")
    assert invoice.state == "dead"
    [letter] = open_letters(event)
    assert letter.stage == "deliver"
    assert (letter.run_id, letter.record_id, letter.workflow_id) == (None, None, None)
    assert letter.category == "delivery_refused"
    assert letter.payload == invoice.payload  # what would be sent, as it would be sent
    assert "deal-won-fanout/invoice (HTTP 422)" in letter.errors[0]
    assert letter.attempts == 1
    tally = event_tally(event_id=event.pk)
    assert tally["matched"] == tally["delivered"] + tally["dead"] + tally["skipped"] == 5
    assert tally["dead"] == open_letters(event).count() == 1
    # Announced once, as delivery.dead_lettered, not a second time as dead_letter.created.
    assert not Event.objects.filter(type="dead_letter.created").exists()


def test_the_queue_shows_the_letter_with_its_subscriber_and_event(client, admin_user, fanout):
    event = won(fanout)
    client.force_login(admin_user)

    page = client.get(reverse(QUEUE), {"kind": "deliver"})

    assert page.status_code == 200
    text = page.content.decode()
    assert "event hub · deal-won-fanout/invoice" in text
    assert f"deal.propertyChange {event.object_id}" in text
    assert "Subscriber refused the delivery" in text  # the group's label, reason and fix
    assert "deal-won-fanout/invoice: HTTP 422" in text
    assert "fix the subscriber&#x27;s settings" in text
    records_only = client.get(reverse(QUEUE), {"kind": "records"}).content.decode()
    assert "deal-won-fanout/invoice" not in records_only


def test_an_admin_fills_in_the_missing_field_in_the_queue_and_redelivers_once(
    client, admin_user, fanout
):
    event = won(fanout)
    [letter] = open_letters(event)
    invoice = Delivery.objects.get(event=event, subscriber__name="invoice")
    key = invoice.idempotency_key
    client.force_login(admin_user)
    url = reverse("switchyard:dead-letter", args=[letter.pk])

    page = client.get(url)
    assert page.status_code == 200
    boxes = page.context["payload_form"].fields
    assert "p_body.data.dealname" in boxes  # a box per value, no JSON to type
    form = {name: field.initial for name, field in boxes.items() if name.startswith("p_")}
    form.update({"new_name": "body.data.amount", "new_value": "12000", "action": "redeliver"})
    assert client.post(url, form).status_code == 302

    letter.refresh_from_db()
    invoice.refresh_from_db()
    assert (letter.resolution, letter.resolution_note) == ("reprocessed", "redelivered")
    assert letter.original_payload["body"]["data"].get("amount") is None
    assert invoice.state == "pending"
    assert invoice.payload["body"]["data"]["amount"] == "12000"
    assert invoice.payload["body"]["data"]["dealname"] == "Acme"
    drain()
    drain()

    invoice.refresh_from_db()
    assert invoice.state == "delivered"
    assert invoice.idempotency_key == key  # the same key on every attempt
    assert fanout.finance.stats()["received"] == 1
    assert fanout.finance.stats()["duplicates"] == 0
    assert len(fanout.slack.messages) == 1  # the others were not sent again
    assert event_tally(event_id=event.pk)["delivered"] == 5
    assert not open_letters(event).exists()
    assert AuditEvent.objects.filter(action="event_delivery.edited").exists()
    assert AuditEvent.objects.filter(action="event_delivery.redelivered").exists()


def test_a_viewer_reviews_the_letter_but_cannot_edit_or_redeliver_it(client, viewer, fanout):
    event = won(fanout)
    [letter] = open_letters(event)
    client.force_login(viewer)
    url = reverse("switchyard:dead-letter", args=[letter.pk])

    page = client.get(url)
    assert page.status_code == 200
    assert b"payload-form" not in page.content
    client.post(url, {"new_name": "body.data.amount", "new_value": "1", "action": "redeliver"})

    letter.refresh_from_db()
    assert letter.resolution == ""
    assert Delivery.objects.get(event=event, subscriber__name="invoice").state == "dead"
    assert fanout.finance.stats()["received"] == 0


def test_redeliver_all_from_the_queue_and_the_command_line_leaves_ignored_letters_alone(
    client, admin_user, fanout
):
    first, second, third = (won(fanout, name=n, event_id=i) for i, n in enumerate("ABC", 1))
    [ignored] = open_letters(third)
    dead_letter_ignore(dead_letter_ids=[ignored.pk], reason="test deal", actor=admin_user)
    [selected] = open_letters(first)
    client.force_login(admin_user)

    client.post(reverse(QUEUE), {"action": "reprocess", "ids": [selected.pk]})
    assert Delivery.objects.filter(state="pending").count() == 1

    out = StringIO()
    call_command("events", "redeliver", "--dead-letters", "--subscriber", "invoice", stdout=out)

    assert "1 dead letter(s)" in out.getvalue()  # the second; the third was ignored
    assert not open_letters(second).exists()
    assert Delivery.objects.get(event=third, subscriber__name="invoice").state == "dead"
    ignored.refresh_from_db()
    assert ignored.resolution == "ignored"


def test_a_redelivery_that_fails_again_files_a_new_letter_and_keeps_the_old_one_resolved(
    client, admin_user, fanout
):
    event = won(fanout)
    [first] = open_letters(event)
    client.force_login(admin_user)

    client.post(reverse(QUEUE) + "?kind=deliver", {"action": "reprocess_all"})
    drain()  # still no amount: refused again

    first.refresh_from_db()
    assert first.resolution == "reprocessed"
    [second] = open_letters(event)
    assert second.pk != first.pk
    invoice = Delivery.objects.get(event=event, subscriber__name="invoice")
    assert list(invoice.letters.values_list("dead_letter_id", flat=True)) == [first.pk, second.pk]
    assert invoice.redeliveries == 1


def test_a_delivery_letter_is_not_reprocessed_in_a_run(admin_user, fanout):
    [letter] = open_letters(won(fanout))

    with pytest.raises(ValueError, match="redelivered"):
        dead_letter_reprocess(dead_letter_ids=[letter.pk], actor=admin_user)

    assert Delivery.objects.get(subscriber__name="invoice").state == "dead"


def test_the_export_and_metrics_take_letters_without_a_run(client, engineer, fanout):
    won(fanout)
    client.force_login(engineer)

    export = client.get(reverse("switchyard:dead-letters-export"), {"kind": "deliver"})
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert [(r["stage"], r["run"], r["workflow"]) for r in rows] == [("deliver", "", "")]

    from monitoring.metrics import SwitchyardCollector

    samples = [
        sample
        for family in SwitchyardCollector().collect()
        if family.name == "switchyard_dead_letters_open"
        for sample in family.samples
    ]
    assert [(s.labels["workflow"], s.value) for s in samples] == [("event-hub", 1)]


@pytest.mark.parametrize(
    ("category", "status", "expected"),
    [
        ("outcome_unknown", 503, "delivery_outcome_unknown"),
        ("gone", 410, "subscriber_gone"),
        ("auth_failed", 401, "delivery_auth_failed"),
        ("retries_exhausted", 503, "delivery_unreachable"),
        ("deadline_passed", None, "delivery_unreachable"),
        ("validation", 422, "delivery_refused"),
        ("invalid_payload", None, "delivery_refused"),
    ],
)
def test_each_way_a_delivery_gives_up_has_its_category_in_the_queue(category, status, expected):
    assert letter_category(error_category=category, status=status) == expected


def test_every_dead_delivery_has_exactly_one_open_letter(fanout):
    for i, name in enumerate("ABCD", 1):
        won(fanout, name=name, event_id=i)

    dead = Delivery.objects.filter(state="dead")
    assert dead.count() == 4
    assert DeliveryLetter.objects.filter(dead_letter__resolution="").count() == 4
    assert set(
        DeliveryLetter.objects.filter(dead_letter__resolution="").values_list(
            "delivery_id", flat=True
        )
    ) == set(dead.values_list("pk", flat=True))


def test_an_erasure_request_blanks_the_letter_of_the_person_it_names(fanout):
    from pipelines.privacy_stores import DeadLetterStore

    event = won(fanout)
    DeadLetter.objects.all().delete()  # filed again below, for an event that names a person
    Event.objects.filter(pk=event.pk).update(fields={**event.fields, "email": "Ada@Acme.com"})
    invoice = Delivery.objects.get(event=event, subscriber__name="invoice")
    [letter] = delivery_letters_file(delivery_ids=[invoice.pk])
    assert letter.identity == "ada@acme.com"

    assert DeadLetterStore().erase("ada@acme.com") == 1

    letter.refresh_from_db()
    assert letter.payload == {}
    assert letter.source_row == {}
    assert letter.errors == ["erased on request"]
