"""List and detail pages read only what they show: the dead-letter queue never loads the JSON
of letters or records, a finished run's page counts its records from its counters, and every
list pages by key (newer/older links) rather than OFFSET, keeping its filter."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import CharField, Value
from django.db.models.functions import Cast, Concat
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from pipelines.models import DeadLetter, Run, RunRecord

pytestmark = pytest.mark.django_db


def _sql(client, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return [q["sql"] for q in queries.captured_queries]


def test_the_queue_selects_no_json_of_letters_or_records(client, admin_user, dead_letter):
    client.force_login(admin_user)

    sql = _sql(client, reverse("switchyard:dead-letters"))

    listing = next(q for q in sql if "pipelines_deadletter" in q and "LIMIT" in q)
    assert '"raw"' not in listing
    assert '"source_row"' not in listing
    assert '"payload"' not in listing
    assert '"password"' not in listing  # nor the user who resolved it: only what is shown


def test_a_finished_runs_page_does_not_count_its_records(client, admin_user, finished_run):
    client.force_login(admin_user)

    sql = _sql(client, reverse("switchyard:run", args=[finished_run.pk]))

    assert not [q for q in sql if "COUNT(" in q.upper() and "pipelines_runrecord" in q]
    records = next(q for q in sql if "pipelines_runrecord" in q and "LIMIT" in q)
    assert '"raw"' not in records


def _add_letters(run, count: int, *, category: str = "validation") -> list[int]:
    """`count` more dead-lettered records in `run`, returned as letter ids, oldest first."""
    now = timezone.now()
    start = run.records.count()
    records = RunRecord.objects.bulk_create(
        RunRecord(
            run=run,
            position=start + i + 1,
            source="csv",
            row_number=start + i + 2,
            state="dead_lettered",
            created_at=now,
            updated_at=now,
        )
        for i in range(count)
    )
    letters = DeadLetter.objects.bulk_create(
        DeadLetter(
            run=run,
            record=record,
            workflow=run.workflow,
            category=category,
            errors=["email: not an address"],
            reason="email: not an address",
        )
        for record in records
    )
    return [letter.pk for letter in letters]


def _walk(client, url: str, params: dict[str, str]) -> list[list[int]]:
    """Every page of a list, following its "older" links."""
    pages, query = [], dict(params)
    while True:
        response = client.get(url, query)
        page = response.context["page"]
        pages.append([item.pk for item in page])
        if page.older is None:
            return pages
        assert f"before={page.older}" in response.content.decode()
        query = {**params, "before": str(page.older)}


def test_the_queue_pages_by_id_keeping_its_filter(client, admin_user, finished_run):
    client.force_login(admin_user)
    wanted = _add_letters(finished_run, 120, category="retries_exhausted")
    _add_letters(finished_run, 7)  # another category: never on these pages
    url = reverse("switchyard:dead-letters")
    filters = {"category": "retries_exhausted", "status": "open"}

    with CaptureQueriesContext(connection) as queries:
        pages = _walk(client, url, filters)

    assert [len(p) for p in pages] == [50, 50, 20]
    assert [pk for p in pages for pk in p] == sorted(wanted, reverse=True)
    sql = " ".join(q["sql"] for q in queries.captured_queries).upper()
    assert "OFFSET" not in sql
    back = client.get(url, {**filters, "after": str(pages[2][0])}).context["page"]
    assert [letter.pk for letter in back] == pages[1]
    assert back.newer == pages[1][0]  # and further up to the first page


def test_a_runs_records_page_by_position_with_the_state_filter(client, admin_user, finished_run):
    client.force_login(admin_user)
    _add_letters(finished_run, 60)
    finished_run.records_in += 60
    finished_run.dead_lettered += 60
    finished_run.save(update_fields=["records_in", "dead_lettered"])
    url = reverse("switchyard:run", args=[finished_run.pk])

    with CaptureQueriesContext(connection) as queries:
        pages = _walk(client, url, {"state": "dead_lettered"})

    positions = list(
        finished_run.records.filter(state="dead_lettered")
        .order_by("position")
        .values_list("pk", flat=True)
    )
    assert [pk for p in pages for pk in p] == positions
    assert [len(p) for p in pages] == [50, 11]
    sql = " ".join(q["sql"] for q in queries.captured_queries).upper()
    assert "OFFSET" not in sql
    assert "61 in all" in client.get(url, {"state": "dead_lettered"}).content.decode()


def test_the_runs_list_pages_by_id_keeping_its_filter(client, admin_user, finished_run):
    client.force_login(admin_user)
    Run.objects.bulk_create(
        Run(workflow=finished_run.workflow, trigger="csv", status="success") for _ in range(55)
    )
    Run.objects.bulk_create(
        Run(workflow=finished_run.workflow, trigger="csv", status="failure") for _ in range(3)
    )

    pages = _walk(client, reverse("switchyard:runs"), {"status": "success"})

    assert [len(p) for p in pages] == [50, 5]
    ids = [pk for p in pages for pk in p]
    assert ids == list(
        Run.objects.filter(status="success").order_by("-id").values_list("pk", flat=True)
    )


def test_a_page_key_that_is_not_a_number_shows_the_first_page(client, admin_user, dead_letter):
    client.force_login(admin_user)

    response = client.get(reverse("switchyard:dead-letters"), {"before": "1 OR 1=1"})

    assert response.status_code == 200
    assert [letter.pk for letter in response.context["page"]] == [dead_letter.pk]


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (DATABASE_URL=postgres://...): the trigram indexes are PostgreSQL's",
)
def test_the_queue_search_compares_what_the_trigram_indexes_hold(client, admin_user, finished_run):
    # An expression index serves only a query comparing that same expression: a search
    # written another way (LOWER, ILIKE, a cast less) would read the whole table again. The
    # planner's choice itself depends on the table's size: on 100,000 letters it takes these
    # indexes (bench/screens.py, docs/pipelines.md), on a test's few it rightly scans.
    client.force_login(admin_user)
    ids = _add_letters(finished_run, 300)
    DeadLetter.objects.filter(pk__in=ids).update(
        identity=Concat(Value("person"), Cast("pk", CharField()), Value("@example.com"))
    )
    wanted = ids[123]
    DeadLetter.objects.filter(pk=ids[99]).update(errors=["company: Zyxwv Holdings is too long"])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'pipelines_deadletter'"
            " AND indexdef LIKE '%%gin_trgm_ops%%'"
        )
        indexed = {
            name: definition.split("USING gin (", 1)[1].removesuffix(" gin_trgm_ops)")
            for name, definition in cursor.fetchall()
        }
    assert sorted(indexed) == [
        "pipelines_dl_errors_trgm",
        "pipelines_dl_identity_trgm",
        "pipelines_dl_reason_trgm",
    ]
    url = reverse("switchyard:dead-letters")

    for term, found in [(f"PERSON{wanted}@example", [wanted]), ("zyxwv holdings", [ids[99]])]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, {"q": term, "status": "all"})

        assert [letter.pk for letter in response.context["page"]] == found
        searches = [q["sql"] for q in queries.captured_queries if "LIKE" in q["sql"]]
        assert len(searches) == 2  # the page and the groups above it
        for sql in searches:
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN {sql}")
                plan = "\n".join(row[0] for row in cursor.fetchall())
            for expression in indexed.values():
                assert f"{expression} ~~ '%{term.upper()}%'" in plan, (expression, plan)
