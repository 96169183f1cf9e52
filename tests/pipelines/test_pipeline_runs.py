"""The record's journey end to end, against the HubSpot sandbox, and what happens when
HubSpot misbehaves. Every run ends with records in = succeeded + dead-lettered + skipped."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.models import ConnectionStatus
from pipelines.models import (
    BatchState,
    DeadLetter,
    RecordState,
    RunBatch,
    RunRecord,
    RunStatus,
    SkipReason,
)
from pipelines.services import loading
from pipelines.services.runs import batches_sweep, run_execute_inline
from tests.pipelines.conftest import (
    SAMPLE_CSV,
    assert_invariant,
    contact_rows,
    import_rows,
    sandbox_emails,
    upsert_calls,
)
from tests.pipelines.factories import CLAY_RULES, WorkflowFactory

pytestmark = pytest.mark.django_db


def test_clean_run_loads_every_contact_and_keeps_the_invariant(workflow, sandbox):
    run = import_rows(workflow, contact_rows(250))

    assert_invariant(run)
    assert (run.status, run.records_in, run.succeeded, run.created) == (
        RunStatus.SUCCESS,
        250,
        250,
        250,
    )
    assert len(sandbox_emails(sandbox)) == 250
    assert upsert_calls(sandbox) == 3  # 100 + 100 + 50: never one call per record
    assert set(run.timings) >= {"stage", "transform", "dedupe", "load", "finish"}
    assert run.mapping_version.version == 1
    record = RunRecord.objects.get(run=run, row_number=2)
    assert record.state == RecordState.LOADED
    assert record.hubspot_id
    assert record.values["phone"] == "+16502530000"


def test_sample_file_dead_letters_invalid_emails_and_merges_the_duplicate(workflow, sandbox):
    run = import_rows(workflow, data=SAMPLE_CSV.read_bytes(), filename="clay-contacts.csv")

    assert_invariant(run)
    assert run.status == RunStatus.PARTIAL
    assert (run.records_in, run.dead_lettered, run.skipped, run.succeeded) == (51, 3, 1, 47)
    assert {d.category for d in run.dead_letters.all()} == {"validation"}
    merged = RunRecord.objects.get(run=run, skip_reason=SkipReason.DUPLICATE)
    survivor = merged.dedupe_survivor
    # Latest non-empty value wins: the newer title, and the phone the duplicate left empty.
    assert survivor.values["jobtitle"] == "Chief Revenue Officer"
    assert survivor.extras["Clay Enrichment Score"]  # unknown columns kept with the record
    apostrophe = RunRecord.objects.get(run=run, row_number=6)
    assert apostrophe.values["phone"] == "+442079460958"
    assert len(sandbox_emails(sandbox)) == 47


def test_reimporting_the_same_file_sends_nothing(workflow, sandbox):
    first = import_rows(workflow, contact_rows(120))
    calls_after_first = upsert_calls(sandbox)

    second = import_rows(workflow, contact_rows(120))

    assert_invariant(second)
    assert first.succeeded == 120
    assert (second.skipped, second.succeeded, second.status) == (120, 0, RunStatus.SUCCESS)
    assert upsert_calls(sandbox) == calls_after_first  # zero HubSpot write calls
    assert set(RunRecord.objects.filter(run=second).values_list("skip_reason", flat=True)) == {
        SkipReason.UNCHANGED
    }


def test_a_changed_value_is_sent_again(workflow, sandbox):
    import_rows(workflow, contact_rows(3))
    second = import_rows(
        workflow, contact_rows(3)[:2] + contact_rows(1, start=2, **{"Job Title": "CEO"})
    )

    assert (second.succeeded, second.skipped) == (1, 2)
    contact = next(
        c
        for c in sandbox.objects("contacts")
        if c["properties"]["email"] == "person2@acme-analytics.com"
    )
    assert contact["properties"]["jobtitle"] == "CEO"


LIFECYCLE_RULES = [
    *CLAY_RULES,
    {"from": "Stage", "to": "lifecyclestage", "transforms": [], "required": False},
]


def _rows_with_bad_stage(n: int, bad: set[int]) -> list[dict[str, str]]:
    rows = contact_rows(n)
    for i, row in enumerate(rows):
        row["Stage"] = "Bogus" if i in bad else ""
    return rows


def test_partial_207_dead_letters_only_the_rejected_inputs(db, settings, tmp_path, sandbox):
    settings.MEDIA_ROOT = tmp_path
    sandbox.configure(batch_error_mode="per_input_207_with_trace_id")
    workflow = WorkflowFactory(rules=LIFECYCLE_RULES)

    run = import_rows(workflow, _rows_with_bad_stage(150, bad={3, 120}))

    assert_invariant(run)
    assert (run.status, run.succeeded, run.dead_lettered, run.failed) == (
        RunStatus.PARTIAL,
        148,
        2,
        2,
    )
    letters = list(DeadLetter.objects.filter(run=run).order_by("record__row_number"))
    assert [d.record.row_number for d in letters] == [5, 122]
    assert letters[0].stage == "load"
    assert letters[0].category == "rejected"  # HubSpot's VALIDATION_ERROR, in our words
    assert "Bogus" in letters[0].errors[0]
    assert letters[0].payload["lifecyclestage"] == "Bogus"
    assert letters[0].attempts == 1
    assert upsert_calls(sandbox) == 2  # good inputs succeeded in the same call
    assert "person3@acme-analytics.com" not in sandbox_emails(sandbox)


def test_whole_batch_400_naming_values_dead_letters_the_named_and_resends_the_rest(
    db, settings, tmp_path, sandbox
):
    settings.MEDIA_ROOT = tmp_path
    sandbox.configure(batch_error_mode="whole_batch_400")
    workflow = WorkflowFactory(rules=LIFECYCLE_RULES)

    run = import_rows(workflow, _rows_with_bad_stage(100, bad={10, 50}))

    assert_invariant(run)
    assert (run.succeeded, run.dead_lettered) == (98, 2)
    assert upsert_calls(sandbox) == 2  # rejected once, resent without the two
    assert len(sandbox_emails(sandbox)) == 98


def test_whole_batch_400_naming_nobody_is_bisected_until_the_bad_inputs_are_alone(
    workflow, sandbox
):
    sandbox.configure(batch_error_mode="whole_batch_400")
    # Over HubSpot's 65,536-character limit: the 400 quotes neither the value nor the input.
    rows = contact_rows(64)
    for i in (7, 40):
        rows[i]["Job Title"] = "x" * 70_000

    run = import_rows(workflow, rows)

    assert_invariant(run)
    assert (run.succeeded, run.dead_lettered) == (62, 2)
    assert sorted(d.record.row_number for d in run.dead_letters.all()) == [9, 42]
    assert "65536" in run.dead_letters.first().errors[0]
    assert 3 < upsert_calls(sandbox) <= 2 * 2 * 7  # bisection: about 2·log2(n) calls per bad input
    assert len(sandbox_emails(sandbox)) == 62


def test_429_storm_defers_batches_without_spending_attempts_until_every_record_succeeds(
    workflow, sandbox, settings
):
    settings.PIPELINE_BATCH_MAX_ATTEMPTS = (
        1  # a 429 is back-pressure: it must not use an attempt up
    )
    sandbox.set_faults({"429": 0.4})

    run = import_rows(workflow, contact_rows(500))

    assert_invariant(run)
    assert (run.status, run.succeeded, run.dead_lettered) == (RunStatus.SUCCESS, 500, 0)
    assert sandbox.faults_injected["429"] > 0
    assert len(set(sandbox_emails(sandbox))) == len(sandbox_emails(sandbox)) == 500
    batches = RunBatch.objects.filter(run=run)
    assert set(batches.values_list("attempts", flat=True)) == {1}
    # Deferred to the task queue for the portal's window (10 s), not slept through in-process.
    assert batches.exclude(available_at=None).exists()


def test_persistent_500s_exhaust_retries_into_dead_letters(workflow, sandbox, settings):
    settings.PIPELINE_BATCH_MAX_ATTEMPTS = 3
    sandbox.set_faults({"500": 1.0})

    run = import_rows(workflow, contact_rows(150))

    assert_invariant(run)
    assert (run.status, run.succeeded, run.dead_lettered, run.failed) == (
        RunStatus.FAILURE,
        0,
        150,
        150,
    )
    letter = run.dead_letters.first()
    assert (letter.category, letter.attempts, letter.stage) == ("retries_exhausted", 3, "load")
    assert letter.payload["email"].endswith("@acme-analytics.com")
    assert set(RunBatch.objects.filter(run=run).values_list("state", flat=True)) == {
        BatchState.FAILED
    }
    assert sandbox_emails(sandbox) == []  # nothing half-written


def test_timeouts_with_the_write_applied_end_succeeded_without_duplicates(
    workflow, sandbox, settings
):
    settings.PIPELINE_BATCH_MAX_ATTEMPTS = 10
    sandbox.configure(timeout_seconds=0.0, timeout_mode="504", timeout_after_write=True)
    sandbox.set_faults({"timeout": 0.5})

    run = import_rows(workflow, contact_rows(300))

    assert_invariant(run)
    assert (run.status, run.succeeded) == (RunStatus.SUCCESS, 300)
    assert sandbox.faults_injected["timeout"] > 0
    emails = sandbox_emails(sandbox)
    assert (
        len(emails) == len(set(emails)) == 300
    )  # "applied but response lost" resent: upsert by email


def test_daily_quota_pauses_the_run_and_the_connection_instead_of_dead_lettering(workflow, sandbox):
    sandbox.configure(daily_limit=1)

    run = import_rows(workflow, contact_rows(250))

    run.refresh_from_db()
    assert run.status == RunStatus.WAITING_FOR_QUOTA
    assert (run.succeeded, run.dead_lettered) == (100, 0)
    assert not DeadLetter.objects.filter(run=run).exists()
    connection = workflow.destination_connection
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.WAITING_FOR_QUOTA
    assert connection.paused_until > timezone.now()
    pending = RunBatch.objects.filter(run=run, state=BatchState.PENDING)
    assert pending.count() == 2
    assert all(b.available_at >= connection.paused_until for b in pending)
    # A quota pause is not a failed attempt: the batches keep their whole retry budget.
    assert [b.attempts for b in pending.order_by("sequence")] == [0, 0]

    # The reset passes: the sweeper's dispatch picks the batches up again.
    sandbox.configure(daily_limit=None)
    past = timezone.now() - timedelta(seconds=1)
    connection.__class__.objects.filter(pk=connection.pk).update(paused_until=past)
    pending.update(available_at=past)
    run = run_execute_inline(run_id=run.pk, honour_backoff=False)
    assert_invariant(run)
    assert (run.status, run.succeeded) == (RunStatus.SUCCESS, 250)


def test_batch_redone_after_a_crash_changes_nothing_and_duplicates_nothing(
    workflow, sandbox, monkeypatch
):
    real_record = loading._record
    crashed = []

    def die_after_hubspot_applied(*args, **kwargs):
        # The worker is killed after HubSpot applied the upsert, before anything was recorded.
        if not crashed:
            crashed.append(True)
            raise SystemExit("worker killed")
        return real_record(*args, **kwargs)

    monkeypatch.setattr(loading, "_record", die_after_hubspot_applied)
    with pytest.raises(SystemExit):
        import_rows(workflow, contact_rows(100))
    batch = RunBatch.objects.get()
    assert batch.state == BatchState.LEASED
    assert len(sandbox_emails(sandbox)) == 100  # HubSpot has them; we recorded nothing

    # A live lease is left alone; an expired one is re-queued by the sweeper.
    assert batches_sweep()["expired"] == 0
    RunBatch.objects.filter(pk=batch.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert batches_sweep()["expired"] == 1
    run = run_execute_inline(run_id=batch.run_id, honour_backoff=False)

    assert_invariant(run)
    assert (run.status, run.succeeded) == (RunStatus.SUCCESS, 100)
    assert len(sandbox_emails(sandbox)) == 100  # no duplicate contact
    batch.refresh_from_db()
    assert (batch.state, batch.attempts) == (BatchState.DONE, 2)


def test_running_a_finished_batch_again_changes_nothing(workflow, sandbox):
    run = import_rows(workflow, contact_rows(100))
    batch = RunBatch.objects.get(run=run)
    calls = upsert_calls(sandbox)
    RunBatch.objects.filter(pk=batch.pk).update(state=BatchState.PENDING)  # forced redelivery

    loading.batch_process(batch_id=batch.pk)

    after = run.__class__.objects.get(pk=run.pk)
    assert (after.succeeded, after.skipped, after.dead_lettered) == (100, 0, 0)
    assert upsert_calls(sandbox) == calls


def test_a_lease_is_judged_abandoned_only_when_its_holder_process_on_this_host_is_gone():
    import socket
    import subprocess
    import sys

    from pipelines.services.loading import lease_holder_gone, lease_holder_here

    here = socket.gethostname()
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()  # exited and reaped: its PID names no process now

    assert lease_holder_gone(f"{here}:{finished.pid}")
    assert not lease_holder_gone(lease_holder_here())  # this very process
    assert not lease_holder_gone(f"{here}:1")  # alive (init), whoever owns it
    assert not lease_holder_gone(f"another-host:{finished.pid}")  # cannot tell: wait for the lease
    assert not lease_holder_gone("")
    assert not lease_holder_gone("host:not-a-pid")
