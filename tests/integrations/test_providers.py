"""Apollo, Slack, BuiltWith, Clearbit and the generic JSON client (docs/reference/apollo.md,
slack.md, builtwith.md, clearbit.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from integrations.apollo import ApolloClient
from integrations.auth import BasicAuth, BearerAuth, HeaderAuth, QueryKeyAuth
from integrations.builtwith import BuiltWithClient
from integrations.clearbit import ClearbitClient, LookupPending
from integrations.errors import (
    AuthFailed,
    MissingScope,
    RateLimited,
    RequestRejected,
    ServerError,
    Unreachable,
)
from integrations.http import HttpJsonClient, extract
from integrations.http.client import ResultMissing
from integrations.slack import SlackClient, SlackWebhookClient
from integrations.transport import ClientConfig
from tests.integrations.conftest import mock, sequence

APOLLO_KEY = "apollo-key-0123456789"
NOW = datetime(2026, 1, 5, 14, 20, 30, tzinfo=UTC)


def apollo(handler, records, sleeps, calls=None):
    return ApolloClient(
        ClientConfig(base_url="https://api.apollo.io/api/v1"),
        HeaderAuth("X-Api-Key", APOLLO_KEY),
        transport=mock(handler, calls),
        on_request=records.append,
        sleep=sleeps.append,
        now=lambda: NOW,
    )


# -- Apollo ---------------------------------------------------------------------------------


def test_apollo_match_sends_the_key_header_and_treats_no_match_as_none(records, sleeps, calls):
    hits = sequence(
        httpx.Response(200, json={"person": {"id": "p1"}}),
        httpx.Response(200, json={"person": None}),
    )
    client = apollo(hits, records, sleeps, calls)
    assert client.match_person(email="jane@acme.com") == {"id": "p1"}
    assert client.match_person(email="nobody@acme.com") is None
    request = calls.requests[0]
    assert request.url == "https://api.apollo.io/api/v1/people/match"
    assert request.headers["X-Api-Key"] == APOLLO_KEY
    assert json.loads(request.content) == {"email": "jane@acme.com"}
    assert "jane" not in repr(records)
    assert APOLLO_KEY not in repr(records)


def test_apollo_organization_enrich_uses_a_bare_domain(records, sleeps, calls):
    client = apollo(
        lambda r: httpx.Response(200, json={"organization": {"name": "Apollo"}}),
        records,
        sleeps,
        calls,
    )
    assert client.enrich_organization("www.Apollo.io")["name"] == "Apollo"
    assert calls.requests[0].url.params["domain"] == "apollo.io"


@pytest.mark.parametrize(
    ("window", "retry_after", "daily", "policy"),
    [("hour", 39 * 60 + 30, False, "HOURLY"), ("day", 9 * 3600 + 39 * 60 + 30, True, "DAILY")],
)
def test_apollo_hourly_and_daily_429_pause_instead_of_retrying(
    records, sleeps, calls, window, retry_after, daily, policy
):
    body = {
        "message": f"The maximum number of api calls allowed for api/v1/people/match is 400 times per {window}. "
        "Please upgrade your plan.",
        "error_details": {"code": "USAGE.RATE_LIMIT.API_RATE_LIMIT_EXCEEDED"},
    }
    with pytest.raises(RateLimited) as raised:
        apollo(lambda r: httpx.Response(429, json=body), records, sleeps, calls).match_person(
            email="a@b.co"
        )
    assert len(calls) == 1
    assert sleeps == []
    assert raised.value.retry_after == retry_after
    assert raised.value.daily is daily
    assert raised.value.policy == policy


def test_apollo_minute_429_is_retried_after_the_window(records, sleeps):
    limited = httpx.Response(429, json={"message": "... is 50 times per minute. ..."})
    client = apollo(sequence(limited, httpx.Response(200, json={"person": None})), records, sleeps)
    assert client.match_person(email="a@b.co") is None
    assert sleeps == [30.0]  # 14:20:30 → the next minute boundary


def test_apollo_daily_window_read_from_either_header_spelling(records, sleeps):
    for header in ("x-daily-requests-left", "x-24-hour-requests-left"):
        with pytest.raises(RateLimited) as raised:
            apollo(
                lambda r, h=header: httpx.Response(429, headers={h: "0"}), records, sleeps
            ).match_person(email="a@b.co")
        assert raised.value.daily


def test_apollo_errors(records, sleeps):
    with pytest.raises(AuthFailed):
        apollo(
            lambda r: httpx.Response(401, text="Invalid access credentials."), records, sleeps
        ).ping()
    master = {"error": "Master API key is required to access this endpoint."}
    with pytest.raises(MissingScope) as raised:
        list(
            apollo(lambda r: httpx.Response(403, json=master), records, sleeps).search_people(
                q_keywords="cto"
            )
        )
    assert raised.value.scope == "master_api_key"


def test_apollo_search_pages_lazily(records, sleeps, calls):
    def handler(request):
        page = json.loads(request.content)["page"]
        return httpx.Response(
            200,
            json={"people": [{"id": f"p{page}"}], "pagination": {"page": page, "total_pages": 2}},
        )

    people = apollo(handler, records, sleeps, calls).search_people(person_titles=["cto"])
    assert next(people)["id"] == "p1"
    assert len(calls) == 1
    assert [p["id"] for p in people] == ["p2"]
    assert len(calls) == 2


# -- Slack ----------------------------------------------------------------------------------


def slack(handler, records, sleeps, calls=None):
    return SlackClient(
        ClientConfig(base_url="https://slack.com/api"),
        BearerAuth("xoxb-secret"),
        transport=mock(handler, calls),
        on_request=records.append,
        sleep=sleeps.append,
    )


def test_slack_post_message_ok(records, sleeps, calls):
    answer = {"ok": True, "channel": "C1", "ts": "1417671948.000006"}
    assert slack(lambda r: httpx.Response(200, json=answer), records, sleeps, calls).post_message(
        "C1", "hi"
    )["ts"]
    assert calls.requests[0].headers["Authorization"] == "Bearer xoxb-secret"
    assert json.loads(calls.requests[0].content) == {"channel": "C1", "text": "hi"}


@pytest.mark.parametrize(
    ("code", "error_class", "permanent"),
    [
        ("channel_not_found", RequestRejected, True),
        ("invalid_auth", AuthFailed, True),
        ("missing_scope", MissingScope, True),
        ("internal_error", ServerError, False),
    ],
)
def test_slack_ok_false_maps_to_typed_errors(records, sleeps, calls, code, error_class, permanent):
    with pytest.raises(error_class) as raised:
        slack(
            lambda r: httpx.Response(
                200, json={"ok": False, "error": code, "needed": "chat:write"}
            ),
            records,
            sleeps,
            calls,
        ).post_message("C1", "hi")
    assert raised.value.permanent is permanent
    assert raised.value.category == code
    assert len(calls) == (1 if permanent else 5)


def test_slack_missing_scope_and_gone_channel_details(records, sleeps):
    with pytest.raises(MissingScope) as raised:
        slack(
            lambda r: httpx.Response(
                200, json={"ok": False, "error": "missing_scope", "needed": "chat:write"}
            ),
            records,
            sleeps,
        ).post_message("C1", "hi")
    assert raised.value.scope == "chat:write"
    with pytest.raises(RequestRejected) as gone:
        slack(
            lambda r: httpx.Response(200, json={"ok": False, "error": "channel_not_found"}),
            records,
            sleeps,
        ).post_message("C1", "x")
    assert gone.value.context["disable_destination"] is True


def test_slack_ratelimited_honours_retry_after(records, sleeps):
    limited = httpx.Response(
        429, headers={"Retry-After": "4"}, json={"ok": False, "error": "ratelimited"}
    )
    slack(sequence(limited, httpx.Response(200, json={"ok": True})), records, sleeps).post_message(
        "C1", "hi"
    )
    assert sleeps == [4.0]


def test_slack_webhook_posts_and_keeps_its_url_secret(records, sleeps, calls):
    url = "https://hooks.slack.com/services/T000/B000/XXXXSECRETXXXX"
    hook = SlackWebhookClient(
        ClientConfig(base_url=url),
        transport=mock(
            sequence(httpx.Response(200, text="ok"), httpx.Response(404, text="no_service")), calls
        ),
        on_request=records.append,
        sleep=sleeps.append,
    )
    hook.post("fallback", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}])
    assert str(calls.requests[0].url) == url  # exactly the webhook, no trailing slash
    assert json.loads(calls.requests[0].content)["text"] == "fallback"
    with pytest.raises(RequestRejected) as raised:
        hook.post("again")
    assert raised.value.category == "no_service"
    assert raised.value.context["disable_destination"]
    assert len(calls) == 2  # 404 no_service is not retried
    assert "SECRET" not in repr(records) + str(raised.value)
    assert records[0].path_template == "/services/{webhook}"
    with pytest.raises(ValueError, match="50 blocks"):
        hook.post("x", blocks=[{}] * 51)


# -- BuiltWith ------------------------------------------------------------------------------

BW_KEY = "bw-0123-secret-key"


def builtwith(handler, records, sleeps, calls=None, base="https://api.builtwith.com"):
    return BuiltWithClient(
        ClientConfig(base_url=base, max_attempts=2),
        QueryKeyAuth(BW_KEY),
        transport=mock(handler, calls) if handler else None,
        on_request=records.append,
        sleep=sleeps.append,
    )


def test_builtwith_sends_key_in_query_and_masks_it_in_records(records, sleeps, calls):
    body = {"Results": [{"Lookup": "acme.com", "Result": {"Paths": []}}], "Errors": []}
    assert (
        builtwith(lambda r: httpx.Response(200, json=body), records, sleeps, calls).company(
            "acme.com"
        )["Lookup"]
        == "acme.com"
    )
    params = calls.requests[0].url.params
    assert params["KEY"] == BW_KEY
    assert params["LOOKUP"] == "acme.com"
    assert params["NOPII"] == "yes"
    assert calls.requests[0].url.path == "/v22/api.json"
    assert BW_KEY not in repr(records)
    assert records[0].path_template == "/v22/api.json"


def test_builtwith_key_is_masked_in_errors(records, sleeps):
    def handler(request):
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    with pytest.raises(Unreachable) as unreachable:
        builtwith(handler, records, sleeps).lookup("acme.com")
    with pytest.raises(ServerError) as server:
        builtwith(lambda r: httpx.Response(500, text=f"boom {r.url}"), records, sleeps).lookup(
            "acme.com"
        )
    for error in (unreachable.value, server.value):
        assert BW_KEY not in str(error)
        assert BW_KEY not in repr(error)
    assert BW_KEY not in repr(records)


def test_builtwith_refuses_more_than_16_domains(records, sleeps):
    with pytest.raises(ValueError, match="16"):
        builtwith(lambda r: httpx.Response(200), records, sleeps).lookup(
            [f"d{i}.com" for i in range(17)]
        )


# -- Clearbit -------------------------------------------------------------------------------


def test_clearbit_company_found_missing_and_queued(records, sleeps, calls):
    handler = sequence(
        httpx.Response(200, json={"name": "Acme"}), httpx.Response(404), httpx.Response(202)
    )
    client = ClearbitClient(
        ClientConfig(base_url="https://company.clearbit.com"),
        BasicAuth("sk_live"),
        transport=mock(handler, calls),
        on_request=records.append,
        sleep=sleeps.append,
    )
    assert client.company("Acme.com") == {"name": "Acme"}
    assert client.company("nobody.example") is None
    with pytest.raises(LookupPending) as pending:
        client.company("new.example")
    assert not pending.value.permanent
    assert pending.value.retry_after
    assert calls.requests[0].url.params["domain"] == "acme.com"
    assert calls.requests[0].headers["Authorization"].startswith("Basic ")


# -- generic JSON API -----------------------------------------------------------------------


def test_extract_walks_dicts_and_lists():
    data = {"data": {"score": 87, "items": [{"v": 1}, {"v": 2}]}}
    assert extract(data, "data.score") == 87
    assert extract(data, "data.items.1.v") == 2
    assert extract(data, None) is data
    with pytest.raises(KeyError):
        extract(data, "data.missing")


def test_http_json_client_calls_and_extracts(records, sleeps, calls):
    body = {"data": {"score": 0.91}}
    client = HttpJsonClient(
        ClientConfig(base_url="https://scoring.internal"),
        HeaderAuth("X-Token", "tok-1"),
        transport=mock(lambda r: httpx.Response(200, json=body), calls),
        on_request=records.append,
    )
    assert (
        client.call("post", "/v1/score", json={"email": "a@b.co"}, result_path="data.score") == 0.91
    )
    request = calls.requests[0]
    assert request.method == "POST"
    assert request.url.path == "/v1/score"
    assert request.headers["X-Token"] == "tok-1"
    with pytest.raises(ResultMissing) as missing:
        client.call("POST", "/v1/score", result_path="data.grade")
    assert missing.value.permanent
    with pytest.raises(ValueError, match="params"):
        client.call("GET", "/v1/score?email=a@b.co")
    assert records[0].path_template == "/v1/score"
