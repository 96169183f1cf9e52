from __future__ import annotations

import random
import ssl

import httpx
import pytest

from integrations.auth import BearerAuth, QueryKeyAuth
from integrations.errors import (
    AuthFailed,
    RateLimited,
    RequestRejected,
    ServerError,
    TimedOut,
    Unreachable,
)
from integrations.ratelimit import RateLimitSpec
from integrations.transport import ClientConfig, ProviderHTTP, backoff_delay, mask_url, tls_context
from tests.integrations.conftest import mock, sequence


def make(config, handler, records, sleeps, calls=None, **kwargs):
    return ProviderHTTP(
        config,
        BearerAuth("sekrit-token-123"),
        transport=mock(handler, calls),
        on_request=records.append,
        sleep=sleeps.append,
        **kwargs,
    )


def test_retry_after_is_honoured(config, records, sleeps):
    handler = sequence(
        httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200, json={})
    )
    response = make(config, handler, records, sleeps).request("GET", "/things")
    assert response.status_code == 200
    assert sleeps == [3.0]
    assert [(r.attempt, r.status, r.error_category) for r in records] == [
        (1, 429, "rate_limited"),
        (2, 200, None),
    ]


def test_full_jitter_bounds():
    rng = random.Random(7)
    for retry in range(8):
        bound = min(30.0, 0.5 * 2**retry)
        samples = [backoff_delay(retry, 0.5, 30.0, rng.uniform) for _ in range(500)]
        assert all(0.0 <= s <= bound for s in samples)
        assert max(samples) > bound * 0.9  # full jitter spans the whole range, not [bound/2, bound]
        assert min(samples) < bound * 0.1


def test_5xx_backs_off_with_full_jitter_then_stops_at_max_attempts(config, records, sleeps, calls):
    ranges: list[tuple[float, float]] = []

    def uniform(a: float, b: float) -> float:
        ranges.append((a, b))
        return b

    transport = make(config, lambda r: httpx.Response(503), records, sleeps, calls, uniform=uniform)
    with pytest.raises(ServerError) as raised:
        transport.request("POST", "/things", json={"email": "jane@acme.com"})
    assert len(calls) == config.max_attempts == 5
    assert ranges == [(0.0, 0.5), (0.0, 1.0), (0.0, 2.0), (0.0, 4.0)]
    assert sleeps == [0.5, 1.0, 2.0, 4.0]
    assert raised.value.status == 503
    assert not raised.value.permanent
    assert "jane@acme.com" not in str(raised.value)


def test_backoff_is_capped(records, sleeps):
    config = ClientConfig(base_url="https://x.test", max_attempts=8, backoff_base=1, backoff_cap=5)
    transport = make(config, lambda r: httpx.Response(500), records, sleeps, uniform=lambda a, b: b)
    with pytest.raises(ServerError):
        transport.request("GET", "/")
    assert sleeps == [1, 2, 4, 5, 5, 5, 5]


def test_timeout_becomes_timed_out_after_retries(config, records, sleeps, calls):
    def handler(request):
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(TimedOut) as raised:
        make(config, handler, records, sleeps, calls).request("GET", "/slow")
    assert len(calls) == 5
    assert not raised.value.permanent
    assert {r.error_category for r in records} == {"timed_out"}
    assert all(r.status is None for r in records)


def test_connection_refused_becomes_unreachable(records, sleeps):
    # A real socket: nothing listens on port 1.
    config = ClientConfig(base_url="http://127.0.0.1:1", max_attempts=2, connect_timeout=1)
    transport = ProviderHTTP(
        config, QueryKeyAuth("bw-secret-key"), on_request=records.append, sleep=sleeps.append
    )
    with pytest.raises(Unreachable) as raised:
        transport.request("GET", "/v22/api.json", params={"LOOKUP": "acme.com"})
    assert len(records) == 2
    assert len(sleeps) == 1
    assert "bw-secret-key" not in str(raised.value)


def test_401_is_permanent_and_not_retried(config, records, sleeps, calls):
    with pytest.raises(AuthFailed) as raised:
        make(config, lambda r: httpx.Response(401), records, sleeps, calls).request("GET", "/me")
    assert len(calls) == 1
    assert raised.value.permanent
    assert sleeps == []
    assert "sekrit-token-123" not in str(raised.value)


def test_other_4xx_is_rejected_without_retry(config, records, sleeps, calls):
    with pytest.raises(RequestRejected):
        make(config, lambda r: httpx.Response(422), records, sleeps, calls).request("POST", "/x")
    assert len(calls) == 1


def test_long_retry_after_is_raised_for_the_task_to_reschedule(config, records, sleeps, calls):
    handler = lambda r: httpx.Response(503, headers={"Retry-After": "7200"})  # noqa: E731
    with pytest.raises(ServerError) as raised:
        make(config, handler, records, sleeps, calls).request("GET", "/")
    assert len(calls) == 1
    assert sleeps == []
    assert raised.value.retry_after == 7200


def test_remaining_zero_holds_the_next_request_for_the_interval(config, records, sleeps):
    exhausted = {
        "X-HubSpot-RateLimit-Remaining": "0",
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
    }
    now = [100.0]
    transport = make(
        config,
        sequence(httpx.Response(200, headers=exhausted), httpx.Response(200)),
        records,
        sleeps,
        clock=lambda: now[0],
    )
    transport.request("GET", "/a")
    assert sleeps == []
    transport.request("GET", "/b")
    assert sleeps == [10.0]
    assert records[0].rate_limit_remaining == 0


def test_shared_limiter_refuses_without_sending(records, sleeps, calls):
    config = ClientConfig(
        base_url="https://x.test",
        rate_limit=RateLimitSpec(1, 60),
        limiter_key="limiter-refuses",
        limiter_max_wait=1,
    )
    import uuid

    config.limiter_key = f"t-{uuid.uuid4()}"
    transport = make(config, lambda r: httpx.Response(200), records, sleeps, calls)
    transport.request("GET", "/one")
    with pytest.raises(RateLimited) as raised:
        transport.request("GET", "/two")
    assert len(calls) == 1
    assert 59 <= raised.value.retry_after <= 60.1


def test_search_requests_use_the_separate_limiter(records, sleeps, calls):
    import uuid

    config = ClientConfig(
        base_url="https://x.test",
        rate_limit=RateLimitSpec(100, 10),
        search_rate_limit=RateLimitSpec(1, 60),
        limiter_key=f"t-{uuid.uuid4()}",
        limiter_max_wait=0,
    )
    transport = make(config, lambda r: httpx.Response(200), records, sleeps, calls)
    transport.request("POST", "/search", search=True)
    transport.request("GET", "/plain")  # the general window still has room
    with pytest.raises(RateLimited):
        transport.request("POST", "/search", search=True)


def test_path_template_is_logged_not_the_url(config, records, sleeps, calls):
    transport = make(config, lambda r: httpx.Response(200), records, sleeps, calls)
    transport.request(
        "GET",
        "/contacts/{id}",
        path_params={"id": "jane@acme.com"},
        params={"email": "jane@acme.com"},
    )
    assert calls.requests[0].url.raw_path.startswith(b"/contacts/jane%40acme.com?")
    assert records[0].path_template == "/contacts/{id}"
    assert "jane" not in repr(records)
    assert "sekrit" not in repr(records)


def test_mask_url():
    url = "https://api.builtwith.com/v22/api.json?KEY=abc-123&LOOKUP=acme.com"
    assert mask_url(url) == "https://api.builtwith.com/v22/api.json?KEY=****&LOOKUP=acme.com"
    assert mask_url(httpx.URL(url)).count("abc-123") == 0


def test_non_idempotent_requests_are_not_resent_when_they_may_have_been_applied(
    config, records, sleeps, calls
):
    def read_timeout(request):
        raise httpx.ReadTimeout("lost", request=request)

    with pytest.raises(TimedOut) as raised:
        make(config, read_timeout, records, sleeps, calls).request(
            "POST", "/deals", idempotent=False
        )
    assert len(calls) == 1
    assert raised.value.context["maybe_applied"] is True
    with pytest.raises(ServerError):
        make(config, lambda r: httpx.Response(502), records, sleeps, calls).request(
            "POST", "/deals", idempotent=False
        )
    assert len(calls) == 2


def test_non_idempotent_requests_are_retried_when_surely_not_applied(
    config, records, sleeps, calls
):
    def refused_then_ok():
        state = {"n": 0}

        def handler(request):
            state["n"] += 1
            if state["n"] == 1:
                raise httpx.ConnectError("refused", request=request)
            if state["n"] == 2:
                return httpx.Response(429, headers={"Retry-After": "1"})
            return httpx.Response(201)

        return handler

    response = make(config, refused_then_ok(), records, sleeps, calls).request(
        "POST", "/deals", idempotent=False
    )
    assert response.status_code == 201
    assert len(calls) == 3


def test_clients_share_one_verifying_tls_context(config, monkeypatch):
    """Building a TLS context reads the whole CA bundle (~20 ms): once per process, not per client."""
    built: list[object] = []
    real = httpx.Client.__init__

    def spy(self, *args, **kwargs):
        built.append(kwargs.get("verify"))
        real(self, *args, **kwargs)

    monkeypatch.setattr(httpx.Client, "__init__", spy)
    first, second = ProviderHTTP(config), ProviderHTTP(config)
    first.close()
    second.close()

    assert built[0] is built[1] is tls_context()
    assert tls_context().verify_mode == ssl.CERT_REQUIRED
    assert tls_context().check_hostname


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        # Apollo spells its daily pair two ways (docs/reference/apollo.md#rate-limits).
        ({"x-rate-limit-daily": "2000", "x-daily-requests-left": "1500"}, (2000, 1500)),
        ({"x-rate-limit-24-hour": "2000", "x-24-hour-requests-left": "1999"}, (2000, 1999)),
        ({"x-minute-requests-left": "5"}, (None, None)),  # no daily pair: nothing invented
    ],
)
def test_daily_budget_headers_are_recorded(config, records, sleeps, headers, expected):
    make(config, lambda r: httpx.Response(200, headers=headers), records, sleeps).request(
        "GET", "/things"
    )
    assert (records[0].daily_max, records[0].daily_remaining) == expected
