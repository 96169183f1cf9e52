"""What happens to a batch and to each of its records, given HubSpot's answer.

Pure: no database, no clock, no settings. ``batch_verdict`` decides; ``loading`` calls
HubSpot before and writes the verdict after (``batch_verdict_save``). The rules:

- a record HubSpot accepted is loaded; one unchanged since its last sync is skipped; one HubSpot
  rejected is dead-lettered with HubSpot's category and messages;
- records HubSpot has not answered for (the call failed) wait for the next try, unless:
- a DAILY 429 pauses the connection and the run until the reset (HubSpot: never retry a daily
  429 before it: https://developers.hubspot.com/docs/api/usage-details); not an attempt;
- a TEN_SECONDLY 429 waits the window out (10 s, or Retry-After); not an attempt, so a 429 storm
  never exhausts a batch into dead letters;
- HubSpot unavailable (502/503/504, connection refused): an outage, not this batch's fault:
  the whole run waits OUTAGE_RETRY_SECONDS and tries again; not an attempt, nothing is
  dead-lettered for it (a long outage shows as a stalled run instead);
- another temporary error (500, timeout) is retried with exponential backoff until
  ``max_attempts``, then its records become "retries_exhausted" dead letters;
- a permanent error (auth, misconfiguration) dead-letters the records at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from integrations.errors import ProviderError, RateLimited, ServerError, Unreachable
from pipelines.models import BatchState, RecordState, SkipReason

OUTAGE_STATUSES = frozenset({502, 503, 504})
# While HubSpot is unavailable a run probes it once per this many seconds: a short outage
# costs at most this much after it ends, a long one costs one call per interval, not a call
# per batch at the full rate limit.
OUTAGE_RETRY_SECONDS = 15.0
# The longest wait we hand to Celery as a countdown: well below Redis's visibility timeout
# (a longer countdown is redelivered in a loop; docs/operations.md, Celery).
LONGEST_RETRY_SECONDS = 600.0


@dataclass
class HubSpotAnswer:
    """What one batch's call(s) came back with, by RunRecord id; filled as the call proceeds."""

    loaded: dict[int, tuple[str, bool]] = field(default_factory=dict)  # → (HubSpot id, new)
    rejected: dict[int, tuple[str, list[str]]] = field(
        default_factory=dict
    )  # → (category, messages)
    unchanged: list[int] = field(default_factory=list)
    error: ProviderError | None = None  # the call that failed for the rest, if any


@dataclass(frozen=True)
class RecordOutcome:
    state: str
    skip_reason: str = ""
    hubspot_id: str = ""
    created: bool = False
    category: str = ""
    messages: tuple[str, ...] = ()


@dataclass(frozen=True)
class BatchVerdict:
    records: dict[int, RecordOutcome]
    batch_state: str  # BatchState: DONE, FAILED, or PENDING (try again)
    retry_in: float | None = None  # seconds until the batch is due again
    attempt_refunded: bool = False  # waiting (429, outage, quota) is not a failed try
    quota_paused: bool = False  # daily limit: pause the connection and the run
    run_deferred: bool = False  # outage: every pending batch of the run waits retry_in
    last_error: str = ""


def batch_verdict(
    *, record_ids: list[int], answer: HubSpotAnswer, attempts: int, max_attempts: int
) -> BatchVerdict:
    """Decide. ``attempts`` counts this try; ``record_ids`` are the records still to load."""
    wanted = set(record_ids)
    records: dict[int, RecordOutcome] = {}
    for pk, (object_id, new) in answer.loaded.items():
        records[pk] = RecordOutcome(
            RecordState.LOADED, hubspot_id=str(object_id or ""), created=new
        )
    for pk in answer.unchanged:
        records[pk] = RecordOutcome(RecordState.SKIPPED, skip_reason=SkipReason.UNCHANGED)
    for pk, (category, messages) in answer.rejected.items():
        records[pk] = RecordOutcome(
            RecordState.DEAD_LETTERED, category=str(category)[:60], messages=tuple(messages)
        )
    records = {pk: outcome for pk, outcome in records.items() if pk in wanted}
    undecided = [pk for pk in record_ids if pk not in records]
    error = answer.error
    last_error = str(error)[:300] if error is not None else ""
    if error is None or not undecided:
        return BatchVerdict(records, BatchState.DONE, last_error=last_error)
    wait = dict(batch_state=BatchState.PENDING, last_error=last_error, attempt_refunded=True)
    if isinstance(error, RateLimited) and error.daily:
        return BatchVerdict(records, quota_paused=True, **wait)
    if isinstance(error, RateLimited):
        return BatchVerdict(records, retry_in=retry_countdown(error, attempts), **wait)
    if hubspot_unavailable(error):
        retry_in = min(float(error.retry_after or OUTAGE_RETRY_SECONDS), LONGEST_RETRY_SECONDS)
        return BatchVerdict(records, retry_in=retry_in, run_deferred=True, **wait)
    if not error.permanent and attempts < max_attempts:
        return BatchVerdict(
            records,
            BatchState.PENDING,
            retry_in=retry_countdown(error, attempts),
            last_error=last_error,
        )
    category = error.kind if error.permanent else "retries_exhausted"
    for pk in undecided:
        records[pk] = RecordOutcome(
            RecordState.DEAD_LETTERED, category=category[:60], messages=(str(error),)
        )
    state = BatchState.DONE if error.permanent else BatchState.FAILED
    return BatchVerdict(records, state, last_error=last_error)


def hubspot_unavailable(error: ProviderError) -> bool:
    """HubSpot (or the way to it) is down, rather than our request being wrong."""
    if error.permanent:
        return False
    if isinstance(error, Unreachable):
        return True
    return isinstance(error, ServerError) and error.status in OUTAGE_STATUSES


def retry_countdown(error: ProviderError, attempts: int) -> float:
    """Provider hint first (Retry-After, the 10 s window), else exponential backoff; capped at
    LONGEST_RETRY_SECONDS."""
    if error.retry_after is not None:
        return min(float(error.retry_after), LONGEST_RETRY_SECONDS)
    return float(min(LONGEST_RETRY_SECONDS, 2**attempts * 5))
