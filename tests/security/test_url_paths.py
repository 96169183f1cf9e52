"""A user-typed path never replaces a connection's base URL, and a warehouse table name never
leaves the allow-list: refused at save, at `config apply` and at call time."""

from __future__ import annotations

import httpx
import pytest
from django.core.exceptions import ValidationError
from django.forms import modelform_factory

from integrations import registry
from integrations.config_sections import ConfigError
from integrations.errors import RequestRejected
from integrations.models import Connection
from integrations.url_path import path_refusal
from integrations.warehouse.client import WarehouseClient
from integrations.warehouse.tables import table_refusal
from pipelines.configuration import config_apply
from pipelines.models import RoutingConfig, RoutingDecision
from pipelines.routing.rules import Lead
from pipelines.routing.services import lead_preview
from tests.routing.test_command_and_config import ISSUE_YAML

pytestmark = pytest.mark.django_db

HOSTILE_PATHS = [
    "http://127.0.0.1:18082/steal",
    "https://169.254.169.254/latest/meta-data/",
    "HTTP://evil.example/x",
    "//evil.example/steal",
    "///evil.example",
    "/score@evil.example",
    "user@evil.example/score",
    "\\\\evil.example\\steal",
    "/score\\..\\admin",
    "/../admin",
    "/scoring/../../admin",
    "/a/%2e%2e/admin",
    "/a/%2E%2E/admin",
    "/a/./b",
    "/score\r\nHost: evil",
    "/score with space",
    "javascript:alert(1)",
    "mailto:x",
]
SAFE_PATHS = ["/score", "/v1/score", "score", "/crm/v3/objects/contacts/batch/upsert", "/a..b"]


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_every_absolute_or_escaping_path_is_refused_with_a_reason(path):
    assert path_refusal(path)


@pytest.mark.parametrize("path", SAFE_PATHS)
def test_relative_paths_are_accepted(path):
    assert path_refusal(path) is None


@pytest.fixture
def catch_all(monkeypatch):
    """Every outbound request, to any host, lands here: proves what was *not* sent."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"score": 99})

    monkeypatch.setattr(registry, "TRANSPORT_OVERRIDE", httpx.MockTransport(answer))
    return seen


@pytest.fixture
def scoring_connection(db):
    return Connection.objects.create(
        name="scoring",
        provider="http",
        auth_type="bearer",
        base_url="http://scoring.test/api",
        token="scoring-secret-token-123456",
        max_attempts=1,
    )


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_the_client_refuses_at_call_time_and_sends_nothing(catch_all, scoring_connection, path):
    client = registry.client_for(scoring_connection)
    with pytest.raises(RequestRejected) as refused:
        client.call("POST", path, json={"email": "lead@example.com"})
    assert refused.value.permanent
    assert catch_all == []


def test_a_relative_path_stays_under_the_base_url(catch_all, scoring_connection):
    client = registry.client_for(scoring_connection)
    assert client.call("POST", "/score", json={}, result_path="score") == 99
    assert str(catch_all[0].url) == "http://scoring.test/api/score"


def test_the_admin_form_refuses_an_absolute_scoring_path(routing, scoring_connection):
    routing.scoring_connection = scoring_connection
    routing.scoring_path = "http://127.0.0.1:18082/steal"
    with pytest.raises(ValidationError) as refused:
        routing.full_clean()
    assert "absolute URL" in str(refused.value.message_dict["scoring_path"])


def test_config_apply_refuses_an_absolute_scoring_path(routing, scoring_connection):
    text = ISSUE_YAML + "  scoring: {connection: scoring, path: '//127.0.0.1:18082/steal'}\n"
    before = RoutingConfig.objects.values_list("scoring_path", flat=True).get()
    with pytest.raises(ConfigError) as refused:
        config_apply(text=text)
    assert "routing.scoring.path" in str(refused.value)
    assert "scheme-relative" in str(refused.value)
    assert RoutingConfig.objects.values_list("scoring_path", flat=True).get() == before


def test_a_stored_absolute_path_never_carries_the_token_away(
    catch_all, routing, scoring_connection
):
    """Saved before the validator existed (or by raw SQL): the call-time check still holds."""
    RoutingConfig.objects.filter(pk=routing.pk).update(
        scoring_connection=scoring_connection, scoring_path="http://127.0.0.1:18082/steal"
    )
    routing.refresh_from_db()
    outcome = lead_preview(config=routing, lead=Lead("x", {"country": "US"}, None, {}))
    assert outcome.assessment.score.source == "unavailable"
    assert "refused" in outcome.assessment.score.error
    assert catch_all == []
    assert not RoutingDecision.objects.exists()


def test_config_apply_refuses_a_connection_of_the_wrong_kind_as_scoring_api(routing):
    text = ISSUE_YAML + "  scoring: {connection: hubspot-main, path: /score}\n"
    with pytest.raises(ConfigError) as refused:
        config_apply(text=text)
    assert "is a hubspot connection, not http" in str(refused.value)
    assert RoutingConfig.objects.get().scoring_connection is None


def test_a_hubspot_connection_stored_as_scoring_api_falls_back_instead_of_500(catch_all, routing):
    RoutingConfig.objects.filter(pk=routing.pk).update(
        scoring_connection=routing.hubspot_connection
    )
    routing.refresh_from_db()
    outcome = lead_preview(config=routing, lead=Lead("x", {"country": "US"}, None, {}))
    assert outcome.assessment.score.source == "unavailable"
    assert "is not an HTTP JSON connection" in outcome.assessment.territory_reason
    assert catch_all == []


def test_the_admin_offers_only_http_connections_as_scoring_api(routing, scoring_connection):
    form = modelform_factory(RoutingConfig, fields=["scoring_connection"])(
        data={"scoring_connection": routing.hubspot_connection.pk}
    )
    assert list(form.fields["scoring_connection"].queryset) == [scoring_connection]
    assert not form.is_valid()


# --- Warehouse tables ------------------------------------------------------------------------

ALLOW = {"schemas": ["public"], "prefixes": ["sy_"]}


@pytest.mark.parametrize(
    "name",
    [
        "auth_user",
        "public.auth_user",
        "pg_catalog.pg_authid",
        "information_schema.sy_x",
        "other.sy_contacts",
        'sy_x"; DROP TABLE auth_user; --',
        "sy_x; DROP TABLE y",
        "a.b.sy_c",
        "",
        "sy_x ",
        "1sy",
    ],
)
def test_warehouse_tables_outside_the_allow_list_are_refused(name):
    assert table_refusal(name, **ALLOW)


@pytest.mark.parametrize("name", ["sy_contacts", "public.sy_contacts", "sy_X_2"])
def test_warehouse_tables_inside_the_allow_list_are_accepted(name):
    assert table_refusal(name, **ALLOW) is None


def test_the_workflow_form_refuses_a_table_outside_the_allow_list(routing):
    workflow = routing.workflow
    workflow.warehouse_table = "public.auth_user"
    with pytest.raises(ValidationError) as refused:
        workflow.full_clean()
    assert "must start with 'sy_'" in str(refused.value.message_dict["warehouse_table"])


def test_the_warehouse_client_refuses_before_connecting():
    # Port 1 refuses connections: a client that tried to connect would raise Unreachable.
    warehouse = WarehouseClient(
        "postgres://u:pw@127.0.0.1:1/db", table_prefixes=("sy_",), connect_timeout=1
    )
    with pytest.raises(RequestRejected, match="warehouse table refused"):
        warehouse.upsert("auth_user", [{"email": "a@example.com"}], key="email")
    with pytest.raises(RequestRejected, match="warehouse table refused"):
        warehouse.rows_delete("pg_catalog.pg_authid", column="rolname", value="postgres")
