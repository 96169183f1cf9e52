"""Monitoring tests: runs are made directly (their figures are what alerts read); HubSpot is
the in-process sandbox and Slack an httpx.MockTransport at the registry's boundary."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from integrations import registry
from integrations.models import AuthType, Provider
from monitoring.models import AlertRule
from pipelines.models import Run, RunStatus, RunTrigger
from sandbox.slack import SlackSandbox
from tests.integrations.factories import ConnectionFactory


def finished_run(
    workflow,
    *,
    status: str = RunStatus.SUCCESS,
    minutes_ago: float = 5,
    duration_ms: int = 1000,
    records_in: int = 10,
    dead_lettered: int = 0,
    message: str = "",
) -> Run:
    finished = timezone.now() - timedelta(minutes=minutes_ago)
    return Run.objects.create(
        workflow=workflow,
        trigger=RunTrigger.SCHEDULE,
        status=status,
        status_message=message,
        records_in=records_in,
        succeeded=records_in - dead_lettered,
        dead_lettered=dead_lettered,
        started_at=finished - timedelta(milliseconds=duration_ms),
        finished_at=finished,
        duration_ms=duration_ms,
        mapping_version=workflow.mapping_versions.order_by("-version").first(),
    )


class SlackStandIn:
    """The Slack stand-in (sandbox/slack) behind the registry's Slack client; ``fail = True``
    makes it refuse the bot token (invalid_auth) until set back."""

    def __init__(self) -> None:
        self.sandbox = SlackSandbox()

    @property
    def messages(self) -> list[dict]:
        return self.sandbox.messages()

    @property
    def fail(self) -> bool:
        return self.sandbox.config["tokens"] is not None

    @fail.setter
    def fail(self, value: bool) -> None:
        self.sandbox.configure(tokens={"xoxb-some-other-token"} if value else None)


@pytest.fixture
def slack(monkeypatch):
    stand_in = SlackStandIn()
    monkeypatch.setitem(
        registry.TRANSPORT_OVERRIDES, "slack", httpx.WSGITransport(app=stand_in.sandbox)
    )
    return stand_in


@pytest.fixture
def slack_connection(db):
    return ConnectionFactory(
        name="slack-main",
        provider=Provider.SLACK,
        auth_type=AuthType.BEARER,
        base_url="",
        token="xoxb-test-bot-token",
        max_attempts=1,
    )


@pytest.fixture
def no_default_rules(db):
    """Only the rules a test makes: the seeded defaults would also fire."""
    AlertRule.objects.all().delete()


def add_records(run: Run, values: list[dict], *, state: str = "loaded", errors=None) -> None:
    """Records of a run as the pipeline leaves them: mapped values, errors, match key."""
    from pipelines.models import RunRecord

    now = timezone.now()
    start = RunRecord.objects.filter(run=run).count()
    RunRecord.objects.bulk_create(
        RunRecord(
            run=run,
            position=start + i,
            source="csv",
            values=value,
            errors=errors or [],
            match_key=str(value.get("email") or "").lower(),
            state=state,
            created_at=now,
            updated_at=now,
        )
        for i, value in enumerate(values)
    )
