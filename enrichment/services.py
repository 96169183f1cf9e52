"""An enrichment run: create it, execute it chunk by chunk, finish it.

A chunk is up to 400 companies (four HubSpot batch updates). For each chunk every source is
asked in its own thread, each through its own connection (shared rate limit) and budget;
answers are cached; fields are merged by precedence; the score is computed; changed values
are written. A source that fails for a company dead-letters that company's record for that
source (the others' values are still written); reprocessing asks only what is not cached.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from audit.services import audit_event_record
from enrichment.cache import answers_store, cached_answers
from enrichment.decide import WriteQueue, records_decide
from enrichment.models import EnrichmentRun, EnrichmentSettings
from enrichment.selection import (
    BASE_PROPERTIES,
    Selection,
    companies_by_id,
    companies_for_domains,
    companies_since,
)
from enrichment.selectors import enrichment_rules_current, source_budget
from enrichment.sources import FETCHERS, Budget, SourceOutcome
from enrichment.usage import usage_record
from integrations.errors import ProviderError
from integrations.registry import client_for
from pipelines.enqueue import enqueue_on_commit
from pipelines.models import (
    DeadLetter,
    RecordSource,
    RecordState,
    Run,
    RunRecord,
    RunStatus,
    RunTrigger,
    Workflow,
)
from quality.addresses import normalize_domain
from quality.errors import ValueRejected

# Companies asked and written together: 400 is a whole number of Apollo bulk calls (10),
# BuiltWith lookups (16) and HubSpot batch updates (100), so no call goes out half full
# (with 100, BuiltWith needed 21 lookups for 300 companies instead of 19; bench/enrichment.py).
CHUNK = 400
FIRST_RUN_LOOKBACK = timedelta(days=1)


def enrichment_run_create(
    *,
    workflow: Workflow,
    trigger: str,
    actor: Any = None,
    actor_label: str = "",
    since: datetime | None = None,
    company_ids: list[str] | None = None,
    domains: list[str] | None = None,
    dry_run: bool = False,
    refresh: bool = False,
    parent: Run | None = None,
) -> Run:
    """A pending run pinned to the workflow's current rules version."""
    if not workflow.enabled:
        raise ValueError(f"Workflow {workflow.slug} is disabled")
    rules = enrichment_rules_current(workflow=workflow)
    if rules is None:
        raise ValueError(f"Workflow {workflow.slug} has no enrichment rules yet")
    run = Run.objects.create(
        workflow=workflow,
        trigger=trigger,
        parent=parent,
        triggered_by=actor if getattr(actor, "pk", None) else None,
        triggered_by_label=(actor_label or (actor.get_username() if actor else "system"))[:200],
    )
    EnrichmentRun.objects.create(
        run=run,
        rules=rules,
        request={
            "since": since.isoformat() if since else None,
            "company_ids": [str(i) for i in company_ids or []],
            "domains": list(domains or []),
            "dry_run": dry_run,
            "refresh": refresh,
        },
    )
    audit_event_record(
        action="enrichment.run_started",
        actor=actor,
        actor_label=actor_label,
        obj=run,
        metadata={"trigger": trigger, "dry_run": dry_run, "domains": len(domains or [])},
    )
    return run


def enrichment_run_dispatch(*, run: Run) -> None:
    enqueue_on_commit("enrichment.run", run.pk)


def enrichment_run_execute(*, run_id: int, sleep: Any = time.sleep) -> Run:
    """Select, stage, enrich every chunk and finish. Safe to call again on a finished run."""
    run = Run.objects.select_related("workflow__destination_connection").get(pk=run_id)
    if run.is_finished:
        return run
    info = EnrichmentRun.objects.select_related("rules").get(run=run)
    config = EnrichmentSettings.objects.get(workflow=run.workflow)
    Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, started_at=timezone.now())
    hubspot = client_for(run.workflow.destination_connection)
    try:
        if not run.records.exists():
            _stage(run=run, info=info, config=config, hubspot=hubspot)
        options = _enum_options(hubspot, info.rules.fields)
        records = list(run.records.filter(state=RecordState.STAGED).order_by("position"))
        queue = WriteQueue(run, info, hubspot)
        for start in range(0, len(records), CHUNK):
            _chunk_enrich(
                run=run,
                info=info,
                config=config,
                queue=queue,
                records=records[start : start + CHUNK],
                options=options,
                sleep=sleep,
            )
            Run.objects.filter(pk=run.pk).update(batches_done=start // CHUNK + 1)
        queue.flush(full_only=False)
        info.save()
    except (ProviderError, ValueError) as error:
        return _run_fail(run, str(error))
    finally:
        hubspot.close()
    from enrichment.finish import enrichment_run_finish

    return enrichment_run_finish(run_id=run.pk)


def _run_fail(run: Run, message: str) -> Run:
    now = timezone.now()
    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.FAILURE, status_message=message[:300], finished_at=now
    )
    return Run.objects.get(pk=run.pk)


def _target_properties(info: EnrichmentRun) -> list[str]:
    names = [f["to"] for f in info.rules.fields]
    if info.rules.score.get("property"):
        names.append(info.rules.score["property"])
    return list(dict.fromkeys(BASE_PROPERTIES + names))


def _enum_options(hubspot: Any, fields: list[dict]) -> dict[str, set[str]]:
    """Option values of the enumeration properties this workflow writes (write value, never
    label); a missing property stops the run before anything is asked or written."""
    catalogue = {p["name"]: p for p in hubspot.properties("companies")}
    missing = [f["to"] for f in fields if f["to"] not in catalogue]
    if missing:
        raise ValueError(
            f"HubSpot has no company properties {', '.join(missing)}: "
            "run `manage.py enrichment_properties --workflow …` to create them"
        )
    return {
        name: {o["value"] for o in prop.get("options") or []}
        for name, prop in catalogue.items()
        if prop.get("type") == "enumeration"
    }


def _stage(*, run: Run, info: EnrichmentRun, config: EnrichmentSettings, hubspot: Any) -> None:
    request, properties = info.request, _target_properties(info)
    if run.trigger == RunTrigger.REPROCESS:
        letters = DeadLetter.objects.filter(resolved_in_run=run).select_related("record")
        selection = Selection(companies=[d.record.raw for d in letters])
        source = RecordSource.REPROCESS
    elif request.get("domains"):
        selection = companies_for_domains(
            hubspot,
            workflow_id=run.workflow_id,
            domains=request["domains"],
            properties=properties,
            create=not request.get("dry_run"),
        )
        source = RecordSource.CSV
    elif request.get("company_ids"):
        selection = companies_by_id(hubspot, ids=request["company_ids"], properties=properties)
        source = RecordSource.HUBSPOT
    else:
        since = (
            datetime.fromisoformat(request["since"])
            if request.get("since")
            else config.cursor or timezone.now() - FIRST_RUN_LOOKBACK
        )
        info.cursor_from = since
        selection = companies_since(
            hubspot,
            since=since,
            modified=config.select_mode == "created_or_modified",
            properties=properties,
        )
        source = RecordSource.HUBSPOT
    now = timezone.now()
    RunRecord.objects.bulk_create(
        [
            RunRecord(
                run=run,
                position=n,
                source=source,
                event_id=str(company.get("id", "")),
                raw={"id": str(company.get("id", "")), "properties": company.get("properties")},
                hubspot_id=str(company.get("id", "")),
                created_at=now,
                updated_at=now,
            )
            for n, company in enumerate(selection.companies, start=1)
        ],
        batch_size=500,
    )
    received = len(selection.companies)
    if selection.expected_total is not None and selection.expected_total != received:
        selection.notes.append(
            f"incomplete: HubSpot reported {selection.expected_total} companies, "
            f"{received} were received"
        )
    info.expected_total, info.received_total = selection.expected_total, received
    info.companies_created = selection.created
    info.notes = [*info.notes, *selection.notes]
    info.save()
    Run.objects.filter(pk=run.pk).update(
        records_in=received, batches_total=-(-received // CHUNK), staged_at=now
    )


def _company_domain(record: RunRecord) -> str | None:
    props = (record.raw.get("properties") or {}) if isinstance(record.raw, dict) else {}
    for value in (props.get("domain"), props.get("website")):
        if value:
            try:
                return normalize_domain(value)
            except ValueRejected:
                continue
    return None


def _chunk_enrich(
    *,
    run: Run,
    info: EnrichmentRun,
    config: EnrichmentSettings,
    queue: WriteQueue,
    records: list[RunRecord],
    options: dict[str, set[str]],
    sleep: Any,
) -> None:
    domains = {r.pk: _company_domain(r) for r in records}
    wanted = sorted({d for d in domains.values() if d})
    answers, failures = _sources_ask(run=run, info=info, config=config, domains=wanted, sleep=sleep)
    records_decide(
        queue=queue,
        records=records,
        domains=domains,
        answers=answers,
        failures=failures,
        options=options,
    )
    info.save()


def _sources_ask(
    *, run: Run, info: EnrichmentRun, config: EnrichmentSettings, domains: list[str], sleep: Any
) -> tuple[dict[str, dict[str, dict]], dict[str, dict[str, Any]]]:
    """Every source in parallel. Returns answers[domain][source] and failures[domain][source]."""
    answers: dict[str, dict[str, dict]] = {d: {} for d in domains}
    failures: dict[str, dict[str, Any]] = {}
    jobs = []
    refresh = bool(info.request.get("refresh"))
    for source in run.workflow.enrichment_sources.select_related("connection"):
        cached = {} if refresh else cached_answers(provider=source.name, domains=domains)
        info.cache_hits += len(cached)
        for domain, (found, payload) in cached.items():
            if found:
                answers[domain][source.name] = payload
        ask = [d for d in domains if d not in cached]
        if not ask:
            continue
        paused = info.sources.get(source.name, {}).get("paused")
        if paused:  # rate-limited earlier in this run: asking again would only get 429s
            for domain in ask:
                failures.setdefault(domain, {})[source.name] = ("rate_limited", paused)
            continue
        try:
            client = client_for(
                source.connection, max_retry_wait=settings.ENRICHMENT_MAX_RETRY_WAIT
            )
        except ProviderError as error:  # e.g. a connection paused for its daily quota
            for domain in ask:
                failures.setdefault(domain, {})[source.name] = (error.kind, str(error)[:300])
            continue
        jobs.append((source, client, ask, source_budget(source=source)))
    with ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
        futures = [
            (source, client, pool.submit(_fetch, source.name, client, ask, budget, sleep))
            for source, client, ask, budget in jobs
        ]
        results = [(source, client, future.result()) for source, client, future in futures]
    for source, client, (outcome, log, flush) in results:
        for entry in log:  # request-log rows, written from this thread (see _fetch)
            flush(entry)
        client.close()
        _outcome_record(info, source, outcome, config, answers, failures)
    info.save()
    return answers, failures


def _fetch(
    name: str, client: Any, domains: list[str], budget: Budget, sleep: Any
) -> tuple[SourceOutcome, list, Any]:
    """In a worker thread: HTTP only. Django's database connections belong to the thread that
    opened them, so the client's request-log callback is swapped for a list here and the
    entries are written by the run's thread afterwards."""
    flush = client.http._on_request
    log: list = []
    client.http._on_request = log.append
    options = {}
    if name == "clearbit":
        options = {
            "pending_attempts": settings.ENRICHMENT_PENDING_ATTEMPTS,
            "pending_wait": settings.ENRICHMENT_PENDING_WAIT_SECONDS,
            "sleep": sleep,
        }
    try:
        outcome = FETCHERS[name](client, domains, budget, **options)
    except Exception as error:  # noqa: BLE001 - one source's bug must not fail the others
        outcome = SourceOutcome()
        outcome.fail(domains, error)
    return outcome, log, flush or (lambda entry: None)


def _outcome_record(
    info: EnrichmentRun,
    source: Any,
    outcome: SourceOutcome,
    config: EnrichmentSettings,
    answers: dict,
    failures: dict,
) -> None:
    answers_store(provider=source.name, outcome=outcome, ttl_hours=config.cache_ttl_hours)
    usage_record(connection_id=source.connection_id, calls=outcome.calls, credits=outcome.credits)
    for domain, payload in outcome.found.items():
        answers[domain][source.name] = payload
    for domain, failure in outcome.failed.items():
        failures.setdefault(domain, {})[source.name] = (failure.category, failure.message)
    info.provider_calls += outcome.calls
    info.credits_spent += outcome.credits
    stats = info.sources.setdefault(source.name, {"calls": 0, "found": 0, "missing": 0})
    stats["calls"] += outcome.calls
    stats["found"] += len(outcome.found)
    stats["missing"] += len(outcome.missing)
    stats["failed"] = stats.get("failed", 0) + len(outcome.failed)
    limited = next((f for f in outcome.failed.values() if f.category == "rate_limited"), None)
    if limited is not None and not stats.get("paused"):
        # The transport already waited what a worker may wait (ENRICHMENT_MAX_RETRY_WAIT):
        # the window is longer, so the source sits out the rest of this run.
        stats["paused"] = limited.message
        info.notes = [
            *info.notes,
            f"{source.name}: rate limited ({limited.message[:120]}); its remaining companies "
            "in this run are dead-lettered for it, reprocess them once the window resets",
        ]
