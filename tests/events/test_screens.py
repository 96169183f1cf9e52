"""The event hub in the browser: the dead letter is edited field by field and redelivered,
the execution timeline resumes from the failed step; a viewer only looks."""

from __future__ import annotations

import pytest

from events.delivery import subscriber_deliver
from events.models import Delivery, Execution, Subscriber
from events.services import events_emit
from pipelines.configuration import config_apply
from tests.events.conftest import DEAL_WON_YAML, deal_stage_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def letter(hub):
    [deal] = hub.hubspot.sandbox.seed_objects("deals", [{"dealname": "Acme"}])
    config_apply(text=DEAL_WON_YAML)
    events_emit(source="hubspot-main", payload=[deal_stage_event(deal_id=deal, stage="closedwon")])
    for subscriber_id in Subscriber.objects.values_list("pk", flat=True):
        subscriber_deliver(subscriber_id=subscriber_id)
    return Delivery.objects.get(subscriber__name="invoice", state="dead")


def test_an_admin_fills_in_the_missing_field_and_redelivers(client, admin_user, hub, letter):
    client.force_login(admin_user)
    url = f"/admin/events/delivery/{letter.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    assert b"body.data.dealname" in page.content  # a field per value, no JSON to type

    fields = page.context["form"].fields
    form = {name: field.initial for name, field in fields.items() if name.startswith("f:")}
    form.update({"f:body.data.amount": "12000", "action": "save_redeliver"})
    assert client.post(url, form).status_code == 302
    subscriber_deliver(subscriber_id=letter.subscriber_id)

    letter.refresh_from_db()
    assert letter.state == "delivered"
    assert letter.payload["body"]["data"]["amount"] == "12000"
    assert letter.payload["body"]["data"]["dealname"] == "Acme"
    assert hub.finance.stats()["received"] == 1


def test_a_viewer_sees_the_letter_but_cannot_change_it(client, viewer, hub, letter):
    client.force_login(viewer)
    url = f"/admin/events/delivery/{letter.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    assert b"payload-form" not in page.content
    client.post(url, {"f:body.data.amount": "1", "action": "save_redeliver"})
    letter.refresh_from_db()
    assert letter.state == "dead"
    assert letter.original_payload is None


def test_subscription_pages_render_for_an_admin(client, admin_user, hub, letter):
    client.force_login(admin_user)
    subscription = letter.subscriber.subscription
    for url in (
        "/admin/events/subscription/add/",
        f"/admin/events/subscription/{subscription.pk}/change/",
        "/admin/events/delivery/?state__exact=dead",
        f"/admin/events/event/{letter.event_id}/change/",
        "/admin/events/subscriber/",
    ):
        assert client.get(url).status_code == 200, url


def test_the_timeline_masks_the_callback_token(client, admin_user, hub):
    from events.executions.engine import execution_start
    from events.models import WorkflowDefinition

    definition = WorkflowDefinition.objects.create(
        name="t",
        version=1,
        steps=[{"name": "findings", "kind": "wait_callback", "timeout_seconds": 5}],
    )
    execution = execution_start(definition=definition, context={"email": "ada@acme.com"})
    client.force_login(admin_user)
    page = client.get(f"/admin/events/execution/{execution.pk}/change/")
    assert page.status_code == 200
    assert b"ada@acme.com" not in page.content
    assert Execution.objects.count() == 1
