"""Every write from the browser is audited with its actor, IP address and user agent: Route
now, dead-letter actions, mapping saves; the audit viewer's filters ignore case and offer the
actions recorded."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from pipelines.models import DeadLetter, RoutingDecision
from tests.pipelines.conftest import contact_rows, import_rows
from tests.pipelines.factories import WorkflowFactory
from tests.routing.conftest import contact_seed

pytestmark = pytest.mark.django_db

BROWSER = {"REMOTE_ADDR": "203.0.113.7", "HTTP_USER_AGENT": "Mozilla/5.0 (RevOps laptop)"}


def _origin(action: str) -> tuple:
    event = AuditEvent.objects.filter(action=action).latest("id")
    return (event.actor_label, event.ip_address, event.user_agent)


def test_route_now_is_audited(client, admin_user, sandbox, routing):
    client.force_login(admin_user)
    contact = contact_seed(sandbox, country="US", state="NY")

    client.post(
        reverse("admin:pipelines_routingconfig_route", args=[routing.pk]),
        {"contact_id": contact},
        **BROWSER,
    )

    decision = RoutingDecision.objects.get()
    event = AuditEvent.objects.get(action="routing.routed")
    assert (event.object_id, event.metadata["owner"]) == (str(decision.pk), "12345")
    assert _origin("routing.routed") == (
        admin_user.username,
        "203.0.113.7",
        BROWSER["HTTP_USER_AGENT"],
    )


def test_dead_letter_and_mapping_writes_carry_ip_and_user_agent(
    client, admin_user, settings, tmp_path, sandbox
):
    settings.MEDIA_ROOT = tmp_path
    workflow = WorkflowFactory()
    import_rows(workflow, contact_rows(1, Phone="12"))
    letter = DeadLetter.objects.get()
    client.force_login(admin_user)

    client.post(
        reverse("switchyard:dead-letter", args=[letter.pk]),
        {"action": "ignore", "reason": "test contact"},
        **BROWSER,
    )

    assert _origin("dead_letter.ignored") == (
        admin_user.username,
        "203.0.113.7",
        BROWSER["HTTP_USER_AGENT"],
    )


def test_audit_filters_ignore_case_and_offer_the_actions(client, admin_user, viewer):
    from audit.services import audit_event_record

    audit_event_record(action="dead_letter.ignored", actor=admin_user)
    audit_event_record(action="routing.routed", actor=admin_user)
    client.force_login(viewer)

    page = client.get(
        reverse("admin:audit_auditevent_changelist"),
        {"actor": admin_user.username.upper(), "action": "DEAD_LETTER.IGNORED"},
    ).content.decode()

    assert page.count('<tr class="audit-event">') == 1
    assert '<option value="routing.routed">' in page
    assert '<datalist id="audit-actions">' in page
