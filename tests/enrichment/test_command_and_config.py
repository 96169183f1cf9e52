"""The CLI, config as code, the schedule and the custom-properties command."""

from __future__ import annotations

import io
import json

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError
from django_celery_beat.models import PeriodicTask

from enrichment.models import EnrichmentRules, EnrichmentSettings
from integrations.config_sections import ConfigError
from pipelines.configuration import config_apply, config_export
from pipelines.models import Workflow
from tests.enrichment.world import WORKFLOW_YAML, seed_companies

pytestmark = pytest.mark.django_db

JSON_KEYS = {
    "run_id",
    "status",
    "records_in",
    "succeeded",
    "dead_lettered",
    "skipped",
    "cache_hits",
    "provider_calls",
    "credits_spent",
    "duration_ms",
}


def enrich(*args: str) -> dict:
    out = io.StringIO()
    call_command("enrich_companies", "--workflow", "daily-company-enrichment", *args, stdout=out)
    return json.loads(out.getvalue())


def test_the_documented_yaml_applies_as_written_and_again_changes_nothing(world):
    changes = config_apply(text=WORKFLOW_YAML)
    assert "workflow daily-company-enrichment: created" in changes
    assert "workflow daily-company-enrichment: rules version 1" in changes
    workflow = Workflow.objects.get(slug="daily-company-enrichment")
    config = EnrichmentSettings.objects.get(workflow=workflow)
    assert (config.cron, config.timezone, config.cache_ttl_hours, config.notify_min_score) == (
        "0 6 * * *",
        "America/New_York",
        24,
        75,
    )
    assert list(workflow.enrichment_sources.values_list("name", flat=True)) == [
        "apollo",
        "builtwith",
    ]
    task = PeriodicTask.objects.get(name="Enrich companies: daily-company-enrichment")
    assert (task.crontab.hour, task.crontab.minute, str(task.crontab.timezone)) == (
        "6",
        "0",
        "America/New_York",
    )
    assert task.task == "enrichment.scheduled"
    assert config_apply(text=WORKFLOW_YAML) == []


def test_a_changed_score_rule_is_a_new_version_and_export_round_trips(world):
    config_apply(text=WORKFLOW_YAML)
    changed = WORKFLOW_YAML.replace("points: 20", "points: 25")
    assert config_apply(text=changed) == ["workflow daily-company-enrichment: rules version 2"]
    assert EnrichmentRules.objects.count() == 2
    exported = yaml.safe_load(config_export())
    item = next(w for w in exported["workflows"] if w["slug"] == "daily-company-enrichment")
    assert item["score"]["rules"][1]["points"] == 25
    assert config_apply(text=config_export()) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("{name: apollo, connection: apollo-main}", "no connection named"),
        ("op: between", "op 'between'"),
        ("transforms: [hubspot_industry]", "unknown transform"),
        ("timezone: America/New_York", "not an IANA name"),
    ],
)
def test_bad_config_names_the_line_and_key(world, change, message):
    broken = {
        "{name: apollo, connection: apollo-main}": "{name: apollo, connection: apollo-nope}",
        "op: between": "op: betwixt",
        "transforms: [hubspot_industry]": "transforms: [guess]",
        "timezone: America/New_York": "timezone: Mars/Olympus",
    }[change]
    with pytest.raises(ConfigError) as error:
        config_apply(text=WORKFLOW_YAML.replace(change, broken, 1))
    assert message.split("'")[0] in str(error.value)
    assert "line" in str(error.value)
    assert not Workflow.objects.filter(slug="daily-company-enrichment").exists()


def test_the_command_prints_exactly_the_contract_keys(world, workflow):
    seed_companies(world, ["acme.com", "initech.com"])
    result = enrich("--since", "2020-01-01", "--wait", "--json")
    assert set(result) == JSON_KEYS
    assert (result["status"], result["records_in"], result["succeeded"]) == ("success", 2, 2)
    assert result["provider_calls"] == 2
    again = enrich("--since", "2020-01-01", "--wait", "--json")
    assert (again["provider_calls"], again["cache_hits"], again["skipped"]) == (0, 4, 2)


def test_dry_run_writes_nothing(world, workflow):
    seed_companies(world, ["acme.com"])
    result = enrich("--since", "2020-01-01", "--wait", "--json", "--dry-run")
    assert result["skipped"] == 1
    assert not world.companies()["acme.com"]["properties"].get("numberofemployees")
    assert world.slack.messages() == []
    assert EnrichmentSettings.objects.get(workflow=workflow).cursor is None


def test_a_domains_file_creates_missing_companies_exactly_once(world, workflow, tmp_path):
    seed_companies(world, ["known.com"])
    csv = tmp_path / "accounts.csv"
    csv.write_text("Company,Website\nKnown,https://www.known.com\nNew,new-co.io\nAgain,new-co.io\n")
    first = enrich("--domains-file", str(csv), "--wait", "--json")
    assert first["records_in"] == 2
    again = enrich("--domains-file", str(csv), "--wait", "--json")
    assert again["records_in"] == 2
    domains = [c["properties"]["domain"] for c in world.hubspot.objects("companies")]
    assert sorted(domains) == ["known.com", "new-co.io"]  # created once, not twice


def test_company_ids_and_unknown_workflow(world, workflow):
    ids = seed_companies(world, ["one.com", "two.com"])
    assert enrich("--company-id", ids[0], "--wait", "--json")["records_in"] == 1
    with pytest.raises(CommandError, match="no company enrichment workflow"):
        call_command("enrich_companies", "--workflow", "nope")


def test_properties_command_shows_then_creates(world):
    config_apply(text=WORKFLOW_YAML)
    out = io.StringIO()
    call_command(
        "enrichment_properties", "--workflow", "daily-company-enrichment", "--yes", stdout=out
    )
    text = out.getvalue()
    assert "property group  switchyard" in text
    assert "switchyard_fit_score (number/number)" in text
    assert "switchyard_tech_stack (string/textarea)" in text
    names = {p["name"]: p for p in world.hubspot.store.properties["companies"].values()}
    assert names["switchyard_fit_score"]["groupName"] == "switchyard"
    out = io.StringIO()
    call_command("enrichment_properties", "--workflow", "daily-company-enrichment", stdout=out)
    assert "Nothing to do" in out.getvalue()


def test_a_run_without_the_properties_fails_clearly(world):
    config_apply(text=WORKFLOW_YAML)
    seed_companies(world, ["acme.com"])
    result = enrich("--since", "2020-01-01", "--wait", "--json")
    assert result["status"] == "failure"
    assert result["provider_calls"] == 0


def test_the_demo_seeds_a_workflow_that_runs_offline(world, monkeypatch):
    import httpx

    from enrichment.demo import enrichment_demo_companies, enrichment_demo_seed
    from enrichment.tasks import enrichment_scheduled_task

    assert enrichment_demo_seed() != []
    assert enrichment_demo_seed() == []  # idempotent
    transport = httpx.WSGITransport(app=world.hubspot)
    first = enrichment_demo_companies(transport=transport)
    assert "company acme-analytics.com" in first
    assert enrichment_demo_companies(transport=transport) == []
    # The schedule's task: one incremental run, handed to a worker.
    queued: list[int] = []
    from enrichment import tasks

    monkeypatch.setattr(tasks.enrichment_run_task, "delay", queued.append)
    run_id = enrichment_scheduled_task("daily-company-enrichment")
    from enrichment.services import enrichment_run_execute
    from pipelines.models import Run

    assert Run.objects.get(pk=run_id).trigger == "schedule"
    run = enrichment_run_execute(run_id=run_id)
    assert run.status == "success"
    assert run.records_in == 8
