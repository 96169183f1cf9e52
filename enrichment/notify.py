"""Slack after an enrichment run: one message per company at or above the threshold (name,
domain, score and why), capped per run, then one summary. Posting never fails the run."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from enrichment.models import EnrichmentRun, EnrichmentSettings
from integrations.errors import ProviderError
from integrations.registry import client_for
from integrations.slack.client import SlackClient
from pipelines.models import RecordState, Run

MAX_ANNOUNCED = 20  # beyond this the summary says how many more: a channel, not a feed


def _post(client: object, channel: str, text: str) -> None:
    if isinstance(client, SlackClient):
        client.post_message(channel, text)
    else:
        client.post(text)


def enrichment_run_announce(*, run_id: int) -> int:
    run = Run.objects.select_related("workflow__slack_connection").get(pk=run_id)
    connection = run.workflow.slack_connection
    if connection is None or run.notified_at is not None:
        return 0
    info = EnrichmentRun.objects.get(run=run)
    threshold = EnrichmentSettings.objects.get(workflow=run.workflow).notify_min_score
    hot = []
    if threshold is not None:
        for record in run.records.filter(state=RecordState.LOADED).order_by("position"):
            score = (record.extras or {}).get("score")
            if score is not None and score >= threshold:
                hot.append(record)
    channel = run.workflow.slack_channel or connection.options.get("channel", "")
    link = f"{settings.PUBLIC_BASE_URL}/{settings.ADMIN_URL}switchyard/enrichment/runs/{run.pk}/"
    client = client_for(connection)
    posted = 0
    try:
        for record in hot[:MAX_ANNOUNCED]:
            name = (record.raw.get("properties") or {}).get("name") or record.match_key
            _post(
                client,
                channel,
                f"High-fit account: {name} ({record.match_key}) scored {record.extras['why']}",
            )
            posted += 1
        more = f" ({len(hot) - posted} more not posted)" if len(hot) > posted else ""
        _post(
            client,
            channel,
            f"{run.workflow.slug}: {run.succeeded} companies enriched, {run.skipped} unchanged, "
            f"{run.dead_lettered} dead-lettered; {len(hot)} at or above {threshold}{more}; "
            f"{info.provider_calls} provider calls, {info.cache_hits} cache hits, "
            f"{info.credits_spent} credits. <{link}|Run {run.pk}>",
        )
    except ProviderError as error:
        info.notes = [*info.notes, f"Slack: {error.kind}: {str(error)[:200]}"]
    finally:
        client.close()
    info.announced = posted
    info.save(update_fields=["announced", "notes"])
    Run.objects.filter(pk=run.pk).update(notified_at=timezone.now())
    return posted
