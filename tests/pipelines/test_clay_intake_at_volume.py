"""Clay intake at volume (docs/operations.md, "Web server and webhook intake"): one statement
finds the workflow, one stores the row, and a burst of rows asks for one processing wake-up,
never one per request. A wake-up that is never sent, or a cache that cannot be reached, costs
a sweep, never a record nor a 500."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from redis.exceptions import ConnectionError as RedisConnectionError

from integrations.hot_path import row_insert_unless_taken
from pipelines import claims, wakeups
from pipelines.models import InboundEvent
from pipelines.selectors import workflow_for_intake
from pipelines.services.webhooks import PROCESS_DEBOUNCE_SECONDS
from tests.integrations.factories import ConnectionFactory
from tests.pipelines.test_clay_webhook import ROW, post

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_wake_windows")]


@pytest.fixture
def wakes(monkeypatch) -> list[dict]:
    sent: list[dict] = []
    monkeypatch.setattr(wakeups, "workflow_events_wake", lambda **kw: sent.append(kw) or True)
    return sent


def rows(n: int) -> list[dict]:
    return [{**ROW, "Email": f"row{i}@acme-analytics.com"} for i in range(n)]


def test_a_burst_of_rows_is_stored_row_by_row_and_asks_for_one_wake_up(
    client, workflow, wakes, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        answers = [post(client, workflow, row).status_code for row in rows(5)]

    assert answers == [202] * 5
    assert InboundEvent.objects.filter(workflow=workflow, run__isnull=True).count() == 5
    assert wakes == [{"workflow_id": workflow.pk, "countdown": PROCESS_DEBOUNCE_SECONDS}]


def test_another_web_process_in_the_same_window_sends_no_second_wake_up(
    client, workflow, wakes, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post(client, workflow, rows(2)[0])
        claims._windows_open.clear()  # a second process: its own memory, the shared cache
        post(client, workflow, rows(2)[1])

    assert len(wakes) == 1
    assert InboundEvent.objects.count() == 2


def test_the_next_window_asks_again(client, workflow, wakes, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post(client, workflow, rows(2)[0])
        claims._windows_open.clear()
        cache.clear()  # the window's time is over
        post(client, workflow, rows(2)[1])

    assert len(wakes) == 2


def test_an_unreachable_cache_still_stores_and_acknowledges(
    client, workflow, wakes, monkeypatch, django_capture_on_commit_callbacks
):
    def down(*args, **kwargs):
        raise RedisConnectionError("Connection refused")

    monkeypatch.setattr(cache, "add", down)
    with django_capture_on_commit_callbacks(execute=True):
        answers = [post(client, workflow, row).status_code for row in rows(3)]

    assert answers == [202] * 3
    assert InboundEvent.objects.filter(workflow=workflow).count() == 3
    # Sent anyway, once for the window; if the broker is down too, the sweeper has the rows.
    assert len(wakes) == 1


def test_a_stored_row_costs_one_lookup_and_one_insert(client, workflow, wakes):
    post(client, workflow, rows(2)[0])  # the window is open: what follows is the steady state
    with CaptureQueriesContext(connection) as queries:
        response = post(client, workflow, rows(2)[1])

    assert response.status_code == 202
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    assert statements == ["SELECT", "INSERT"]


def test_a_replay_is_answered_without_a_failed_insert(client, workflow, wakes):
    post(client, workflow, ROW)
    with CaptureQueriesContext(connection) as queries:
        again = post(client, workflow, ROW)

    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    assert InboundEvent.objects.count() == 1
    # No savepoint or rollback: the taken key is seen by the INSERT itself.
    assert not [q for q in queries.captured_queries if "SAVEPOINT" in q["sql"].upper()]


def test_the_intake_lookup_reads_what_verifying_needs_and_loads_the_rest_on_demand(workflow):
    found = workflow_for_intake(slug=workflow.slug)

    assert (found.pk, found.enabled) == (workflow.pk, True)
    source = found.source_connection
    assert (source.pk, source.provider, source.token) == (
        workflow.source_connection.pk,
        "clay",
        workflow.source_connection.token,
    )
    assert "destination_connection_id" in found.get_deferred_fields()
    assert found.destination_connection_id == workflow.destination_connection_id  # loads
    assert workflow_for_intake(slug="no-such-workflow") is None


def test_a_disabled_workflow_or_a_source_that_is_not_clay_is_a_404(client, workflow):
    workflow.enabled = False
    workflow.save(update_fields=["enabled"])
    assert post(client, workflow, ROW).status_code == 404

    workflow.enabled = True
    workflow.source_connection = ConnectionFactory(name="not-clay", provider="hubspot")
    workflow.save(update_fields=["enabled", "source_connection"])
    assert post(client, workflow, ROW).status_code == 404
    assert not InboundEvent.objects.exists()


def test_an_insert_whose_key_is_taken_writes_nothing_and_keeps_the_transaction_usable(workflow):
    def event(payload: dict) -> InboundEvent:
        return InboundEvent(
            source="clay",
            workflow=workflow,
            connection=workflow.source_connection,
            dedupe_key="clay:same-key",
            payload=payload,
            received_at=workflow.created_at,
        )

    first = event({"n": 1})
    assert row_insert_unless_taken(first, unique="dedupe_key") is True
    second = event({"n": 2})
    assert row_insert_unless_taken(second, unique="dedupe_key") is False

    assert second.pk is None
    assert list(InboundEvent.objects.values_list("pk", "payload")) == [(first.pk, {"n": 1})]
