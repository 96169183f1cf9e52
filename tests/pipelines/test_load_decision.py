"""The loader's decision, apart from its persistence: given a batch's records, HubSpot's answer
and the attempt, what happens to each record and to the batch. No database, no clock."""

from __future__ import annotations

import pytest

from integrations.errors import (
    AuthFailed,
    ProviderError,
    RateLimited,
    ServerError,
    TimedOut,
    Unreachable,
)
from pipelines.models import BatchState, RecordState, SkipReason
from pipelines.services.load_decision import (
    OUTAGE_RETRY_SECONDS,
    HubSpotAnswer,
    RecordOutcome,
    batch_verdict,
)

IDS = [1, 2, 3]
LOADED = RecordOutcome(RecordState.LOADED, hubspot_id="501", created=True)


def _all_loaded() -> HubSpotAnswer:
    return HubSpotAnswer(loaded={1: ("501", True), 2: ("502", False), 3: ("503", False)})


def _one_loaded_then(error: ProviderError) -> HubSpotAnswer:
    return HubSpotAnswer(loaded={1: ("501", True)}, error=error)


# (case, answer, attempts, batch state, retry_in, attempt refunded, run deferred, quota paused)
CASES = [
    ("every record accepted", _all_loaded(), 1, BatchState.DONE, None, False, False, False),
    (
        "an error after every record was decided changes nothing",
        HubSpotAnswer(
            loaded={1: ("501", True), 2: ("502", False)},
            unchanged=[3],
            error=ServerError("late 500", status=500),
        ),
        1,
        BatchState.DONE,
        None,
        False,
        False,
        False,
    ),
    (
        "ten-secondly 429 waits HubSpot's window, no attempt spent",
        _one_loaded_then(RateLimited("429", retry_after=10)),
        5,
        BatchState.PENDING,
        10.0,
        True,
        False,
        False,
    ),
    (
        "daily 429 pauses for the quota, no attempt spent",
        _one_loaded_then(RateLimited("daily", retry_after=3600, daily=True)),
        1,
        BatchState.PENDING,
        None,
        True,
        False,
        True,
    ),
    (
        "503 is an outage: the run waits, no attempt spent, even past the last attempt",
        _one_loaded_then(ServerError("503", status=503)),
        5,
        BatchState.PENDING,
        OUTAGE_RETRY_SECONDS,
        True,
        True,
        False,
    ),
    (
        "connection refused is an outage too",
        _one_loaded_then(Unreachable("refused")),
        5,
        BatchState.PENDING,
        OUTAGE_RETRY_SECONDS,
        True,
        True,
        False,
    ),
    (
        "500 retries with backoff while attempts remain",
        _one_loaded_then(ServerError("500", status=500)),
        2,
        BatchState.PENDING,
        20.0,
        False,
        False,
        False,
    ),
    (
        "timeout honours Retry-After when given",
        _one_loaded_then(TimedOut("slow", retry_after=7)),
        1,
        BatchState.PENDING,
        7.0,
        False,
        False,
        False,
    ),
    (
        "500 on the last attempt fails the batch",
        _one_loaded_then(ServerError("500", status=500)),
        5,
        BatchState.FAILED,
        None,
        False,
        False,
        False,
    ),
    (
        "a permanent error ends the batch at once",
        _one_loaded_then(AuthFailed("401", status=401)),
        1,
        BatchState.DONE,
        None,
        False,
        False,
        False,
    ),
]


@pytest.mark.parametrize(
    ("answer", "attempts", "state", "retry_in", "refunded", "deferred", "paused"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_batch_verdict(answer, attempts, state, retry_in, refunded, deferred, paused):
    verdict = batch_verdict(record_ids=IDS, answer=answer, attempts=attempts, max_attempts=5)

    assert verdict.batch_state == state
    assert verdict.retry_in == retry_in
    assert (verdict.attempt_refunded, verdict.run_deferred, verdict.quota_paused) == (
        refunded,
        deferred,
        paused,
    )
    assert verdict.records[1].state == RecordState.LOADED  # what HubSpot accepted always counts
    if state == BatchState.PENDING:
        assert set(verdict.records) == {1}  # the rest waits: nothing decided for it, no letter


@pytest.mark.parametrize(
    ("error", "category"),
    [
        (ServerError("500", status=500), "retries_exhausted"),
        (AuthFailed("401", status=401), "auth_failed"),
    ],
)
def test_records_left_when_the_batch_gives_up_become_dead_letters_with_the_reason(error, category):
    verdict = batch_verdict(
        record_ids=IDS, answer=_one_loaded_then(error), attempts=5, max_attempts=5
    )

    assert verdict.records[1] == LOADED
    for pk in (2, 3):
        outcome = verdict.records[pk]
        assert (outcome.state, outcome.category, outcome.messages) == (
            RecordState.DEAD_LETTERED,
            category,
            (str(error),),
        )


def test_each_record_gets_what_hubspot_said_about_it():
    answer = HubSpotAnswer(
        loaded={1: ("501", True)},
        rejected={2: ("VALIDATION_ERROR", ["lifecyclestage: Bogus is not an option"])},
        unchanged=[3],
    )

    verdict = batch_verdict(record_ids=IDS, answer=answer, attempts=1, max_attempts=5)

    assert verdict.records == {
        1: LOADED,
        2: RecordOutcome(
            RecordState.DEAD_LETTERED,
            category="VALIDATION_ERROR",
            messages=("lifecyclestage: Bogus is not an option",),
        ),
        3: RecordOutcome(RecordState.SKIPPED, skip_reason=SkipReason.UNCHANGED),
    }
    assert verdict.batch_state == BatchState.DONE


def test_an_answer_about_a_record_not_in_the_batch_is_ignored():
    answer = HubSpotAnswer(
        loaded={1: ("501", True), 2: ("502", False), 3: ("503", False), 99: ("9", True)}
    )

    verdict = batch_verdict(record_ids=IDS, answer=answer, attempts=1, max_attempts=5)

    assert 99 not in verdict.records
    assert set(verdict.records) == set(IDS)
