"""The enrichment screens through Django's test client: who may do what, forms instead of
JSON, Run now, and the run page's per-company story."""

from __future__ import annotations

import pytest
from django.urls import reverse

from enrichment import tasks
from enrichment.models import EnrichmentRules
from enrichment.services import enrichment_run_execute
from pipelines.models import Run
from tests.enrichment.world import seed_companies

pytestmark = pytest.mark.django_db


@pytest.fixture
def dispatched(monkeypatch) -> list[int]:
    queue: list[int] = []
    monkeypatch.setattr(tasks.enrichment_run_task, "delay", queue.append)
    return queue


def form_data(workflow, *, extra_rule: dict | None = None) -> dict:
    rules = EnrichmentRules.objects.filter(workflow=workflow).order_by("-version").first()
    data = {
        "select_mode": "created",
        "cache_ttl_hours": "48",
        "hour": "7",
        "minute": "30",
        "timezone": "Europe/Berlin",
        "notify_min_score": "60",
        "slack_channel": "#accounts",
        "fields-TOTAL_FORMS": str(len(rules.fields)),
        "fields-INITIAL_FORMS": str(len(rules.fields)),
        "score-INITIAL_FORMS": str(len(rules.score["rules"])),
    }
    for n, f in enumerate(rules.fields):
        data.update(
            {
                f"fields-{n}-to": f["to"],
                f"fields-{n}-first": f["from"][0],
                f"fields-{n}-transform": (f.get("transforms") or [""])[0],
            }
        )
        if f.get("overwrite"):
            data[f"fields-{n}-overwrite"] = "on"
    score_rules = [*rules.score["rules"], *([extra_rule] if extra_rule else [])]
    data["score-TOTAL_FORMS"] = str(len(score_rules))
    for n, r in enumerate(score_rules):
        data.update({f"score-{n}-field": r["field"], f"score-{n}-op": r["op"]})
        data[f"score-{n}-points"] = str(r["points"])
        if r["op"] == "between":
            data[f"score-{n}-low"], data[f"score-{n}-high"] = map(str, r["value"])
        else:
            data[f"score-{n}-value"] = str(r.get("value", ""))
    return data


def test_an_admin_adds_a_score_rule_with_forms_and_gets_a_new_version(
    client, world, workflow, admin_user
):
    client.force_login(admin_user)
    url = reverse("enrichment:configure", args=[workflow.pk])
    assert client.get(url).status_code == 200
    rule = {"field": "industry", "op": "in", "value": "COMPUTER_SOFTWARE, INTERNET", "points": 25}
    response = client.post(url, form_data(workflow, extra_rule=rule))
    assert response.status_code == 302
    latest = EnrichmentRules.objects.filter(workflow=workflow).order_by("-version").first()
    assert latest.version == 2
    assert latest.score["rules"][-1] == {
        "field": "industry",
        "op": "in",
        "value": ["COMPUTER_SOFTWARE", "INTERNET"],
        "points": 25,
    }
    assert latest.score["property"] == "switchyard_fit_score"
    workflow.enrichment.refresh_from_db()
    assert (workflow.enrichment.cron, workflow.enrichment.timezone) == (
        "30 7 * * *",
        "Europe/Berlin",
    )


def test_the_form_changes_the_time_of_day_and_keeps_the_weekdays(
    client, world, workflow, admin_user
):
    from enrichment.models import EnrichmentSettings

    EnrichmentSettings.objects.filter(workflow=workflow).update(cron="0 6 * * 1-5")
    client.force_login(admin_user)
    response = client.post(reverse("enrichment:configure", args=[workflow.pk]), form_data(workflow))
    assert response.status_code == 302
    workflow.enrichment.refresh_from_db()
    assert workflow.enrichment.cron == "30 7 * * 1-5"


def test_a_between_rule_without_bounds_is_refused_on_the_form(client, world, workflow, admin_user):
    client.force_login(admin_user)
    data = form_data(
        workflow,
        extra_rule={"field": "annualrevenue", "op": "between", "value": ["", ""], "points": 5},
    )
    response = client.post(reverse("enrichment:configure", args=[workflow.pk]), data)
    assert response.status_code == 200
    assert "needs a from and a to" in response.content.decode()
    assert EnrichmentRules.objects.filter(workflow=workflow).count() == 1


def test_run_now_then_the_run_page_tells_each_companys_story(
    client, world, workflow, admin_user, dispatched, django_capture_on_commit_callbacks
):
    world.apollo.seed_organization("acme.com", estimated_num_employees=420)
    world.builtwith.seed_technologies("acme.com", ["Salesforce"])
    seed_companies(world, ["acme.com"])
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("enrichment:run-now", args=[workflow.pk]))
    run = Run.objects.get()
    assert response.url == reverse("enrichment:run", args=[run.pk])
    assert dispatched == [run.pk]
    enrichment_run_execute(run_id=run.pk)
    page = client.get(response.url).content.decode()
    assert "numberofemployees</strong>: 420 <em>from apollo</em>" in page
    assert "+30 numberofemployees is between 200–5,000" in page
    assert "<strong>apollo</strong>: found" in page


def test_a_viewer_reads_but_may_not_run_or_configure(client, world, workflow, viewer):
    client.force_login(viewer)
    assert client.post(reverse("enrichment:run-now", args=[workflow.pk])).status_code == 403
    configure = client.post(reverse("enrichment:configure", args=[workflow.pk]), {})
    assert configure.status_code == 403
    assert not Run.objects.exists()
    assert client.get(reverse("enrichment:workflows")).status_code == 200


def test_an_outsider_is_sent_to_the_login(client, world, workflow, outsider):
    client.force_login(outsider)
    response = client.post(reverse("enrichment:run-now", args=[workflow.pk]))
    assert response.status_code == 302
    assert "/login/" in response.url
    assert not Run.objects.exists()


def test_a_source_dead_letter_is_reprocessed_from_its_screen(
    client, world, workflow, admin_user, monkeypatch, django_capture_on_commit_callbacks
):
    from enrichment.services import enrichment_run_create
    from pipelines.models import DeadLetter, RunTrigger
    from tests.enrichment.world import long_ago

    queue: list[int] = []
    monkeypatch.setattr(tasks.enrichment_run_task, "delay", queue.append)
    seed_companies(world, ["acme.com"])
    world.apollo.fail(503)
    first = enrichment_run_create(workflow=workflow, trigger=RunTrigger.MANUAL, since=long_ago())
    enrichment_run_execute(run_id=first.pk)
    letter = DeadLetter.objects.get()
    client.force_login(admin_user)
    url = reverse("switchyard:dead-letter", args=[letter.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert "acme.com" in page.content.decode()
    world.apollo.fail(None)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"action": "reprocess"})
    assert response.status_code == 302
    again = Run.objects.get(parent=first)
    assert queue == [again.pk]
    enrichment_run_execute(run_id=again.pk)
    again.refresh_from_db()
    assert again.status == "success"
    assert world.companies()["acme.com"]["properties"]["numberofemployees"]
