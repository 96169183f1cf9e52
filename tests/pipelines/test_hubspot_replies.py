"""What the loader does with HubSpot's answers where HubSpot and the happy path differ: a reply
that does not mention an input (read back before dead-lettering), and the sandbox's default
whole-batch 400 for email upserts."""

from __future__ import annotations

import json

import httpx
import pytest

from integrations import registry
from pipelines.models import DeadLetter, RecordState, RunRecord, RunStatus
from tests.pipelines.conftest import (
    assert_invariant,
    contact_rows,
    import_rows,
    sandbox_emails,
    upsert_calls,
)
from tests.pipelines.factories import WorkflowFactory
from tests.pipelines.test_pipeline_runs import LIFECYCLE_RULES, _rows_with_bad_stage

pytestmark = pytest.mark.django_db


class SilentResults(httpx.BaseTransport):
    """The sandbox behind a proxy that removes the results of some e-mails from upsert
    replies. ``written=False`` also keeps those inputs from reaching the sandbox at all."""

    def __init__(self, sandbox, emails: set[str], *, written: bool) -> None:
        self.inner = httpx.WSGITransport(app=sandbox)
        self.emails, self.written = emails, written

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/batch/upsert"):
            return self.inner.handle_request(request)
        if not self.written:
            body = json.loads(request.content)
            body["inputs"] = [i for i in body["inputs"] if i["id"] not in self.emails]
            request = httpx.Request(request.method, request.url, headers=request.headers, json=body)
        response = self.inner.handle_request(request)
        response.read()
        reply = response.json()
        reply["results"] = [
            r for r in reply["results"] if r["properties"].get("email") not in self.emails
        ]
        return httpx.Response(response.status_code, json=reply)


def batch_reads(sandbox) -> int:
    return sum(1 for m, p, *_ in sandbox.request_log if m == "POST" and p.endswith("/batch/read"))


def test_an_input_the_reply_omits_but_hubspot_wrote_is_loaded_not_dead_lettered(
    workflow, sandbox, monkeypatch
):
    sandbox.configure(echo_trace_ids=False)  # only the fallbacks are left to match by
    quiet = {"person1@acme-analytics.com", "person4@acme-analytics.com"}
    monkeypatch.setitem(
        registry.TRANSPORT_OVERRIDES, "hubspot", SilentResults(sandbox, quiet, written=True)
    )
    run = import_rows(workflow, contact_rows(5))
    assert_invariant(run)
    assert (run.status, run.succeeded, run.dead_lettered) == (RunStatus.SUCCESS, 5, 0)
    assert batch_reads(sandbox) == 1  # one read back for both, by e-mail
    record = RunRecord.objects.get(run=run, match_key="person1@acme-analytics.com")
    assert record.state == RecordState.LOADED
    held = {c["properties"]["email"]: c["id"] for c in sandbox.objects("contacts")}
    assert record.hubspot_id == held["person1@acme-analytics.com"]


def test_an_input_the_reply_omits_and_hubspot_lacks_is_a_dead_letter(
    workflow, sandbox, monkeypatch
):
    lost = {"person2@acme-analytics.com"}
    monkeypatch.setitem(
        registry.TRANSPORT_OVERRIDES, "hubspot", SilentResults(sandbox, lost, written=False)
    )
    run = import_rows(workflow, contact_rows(4))
    assert_invariant(run)
    assert (run.succeeded, run.dead_lettered) == (3, 1)
    letter = DeadLetter.objects.get(run=run)
    assert letter.category == "no_result"
    assert letter.record.match_key == "person2@acme-analytics.com"
    assert "person2@acme-analytics.com" not in sandbox_emails(sandbox)


def test_by_default_one_bad_value_rejects_the_whole_email_upsert_and_the_rest_is_resent(
    db, settings, tmp_path, sandbox
):
    settings.MEDIA_ROOT = tmp_path
    workflow = WorkflowFactory(rules=LIFECYCLE_RULES)
    run = import_rows(workflow, _rows_with_bad_stage(60, bad={7}))
    assert_invariant(run)
    assert (run.status, run.succeeded, run.dead_lettered) == (RunStatus.PARTIAL, 59, 1)
    assert upsert_calls(sandbox) == 2  # refused whole once, resent without the bad row
    assert "person7@acme-analytics.com" not in sandbox_emails(sandbox)
    assert (
        DeadLetter.objects.get(run=run).category == "rejected"
    )  # HubSpot's VALIDATION_ERROR, in our words
