"""Contract: auth, scopes, rate limits, fault knobs and control endpoints
(docs/reference/hubspot.md#errors, #rate-limits, #private-app-tokens;
docs/reference/reliability.md#fault-tests, #rate-limiter)."""

from __future__ import annotations

import time

import pytest

from sandbox.hubspot import HubSpotSandbox

from .conftest import client_for

CONTACTS = "/crm/v3/objects/contacts"


def test_missing_and_unknown_tokens_are_401(make_sandbox):
    app, _client = make_sandbox(tokens={"good"})
    with client_for(app, token=None) as anonymous:
        response = anonymous.get(CONTACTS)
    assert response.status_code == 401
    assert response.json()["category"] == "INVALID_AUTHENTICATION"
    assert "x-hubspot-ratelimit-max" not in response.headers
    with client_for(app, token="bad") as wrong:
        assert wrong.get(CONTACTS).status_code == 401
    with client_for(app, token="good") as right:
        assert right.get(CONTACTS).status_code == 200


def test_missing_scope_is_403_naming_the_scope(make_sandbox):
    _app, client = make_sandbox(missing_scopes=["crm.objects.contacts.write"])
    assert client.get(CONTACTS).status_code == 200
    response = client.post(CONTACTS, json={"properties": {"email": "a@acme.com"}})
    assert response.status_code == 403
    body = response.json()
    assert body["category"] == "MISSING_SCOPES"
    assert body["errors"][0]["context"]["requiredGranularScopes"] == ["crm.objects.contacts.write"]


def test_rate_limit_headers_and_429_body(make_sandbox):
    _app, client = make_sandbox(rate_limit=3, daily_limit=1000)
    remaining = []
    for _ in range(3):
        response = client.get(CONTACTS)
        assert response.status_code == 200
        assert response.headers["X-HubSpot-RateLimit-Max"] == "3"
        assert response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        remaining.append(int(response.headers["X-HubSpot-RateLimit-Remaining"]))
    assert remaining == [2, 1, 0]
    assert response.headers["X-HubSpot-RateLimit-Daily"] == "1000"
    assert response.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "997"
    limited = client.get(CONTACTS)
    assert limited.status_code == 429
    body = limited.json()
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["errorType"] == "RATE_LIMIT"
    assert body["status"] == "error"
    assert body["correlationId"]
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert limited.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert "Retry-After" not in limited.headers


def test_window_is_rolling_and_per_token(make_sandbox):
    app, client = make_sandbox(rate_limit=2, window_seconds=0.3, retry_after_on_429=True)
    assert [client.get(CONTACTS).status_code for _ in range(3)] == [200, 200, 429]
    with client_for(app, token="another-app") as other:
        assert other.get(CONTACTS).status_code == 200  # its own bucket
    assert client.get(CONTACTS).headers.get("Retry-After") == "1"
    time.sleep(0.35)
    assert client.get(CONTACTS).status_code == 200


def test_search_has_its_own_secondly_limit_outside_the_ten_second_bucket(make_sandbox):
    _app, client = make_sandbox(rate_limit=2, search_per_second=3)
    statuses = [client.post(f"{CONTACTS}/search", json={}).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = client.post(f"{CONTACTS}/search", json={})
    assert limited.json()["policyName"] == "SECONDLY"
    assert limited.json()["message"] == "You have reached your secondly limit."
    ok = client.get(CONTACTS)
    assert ok.status_code == 200
    assert ok.headers["X-HubSpot-RateLimit-Remaining"] == "1"


def test_daily_limit(make_sandbox):
    _app, client = make_sandbox(daily_limit=2)
    assert [client.get(CONTACTS).status_code for _ in range(2)] == [200, 200]
    response = client.get(CONTACTS)
    assert response.status_code == 429
    assert response.json()["policyName"] == "DAILY"
    assert response.json()["message"] == "You have reached your daily limit."


def test_request_log_obeys_the_rolling_limit(make_sandbox):
    app, client = make_sandbox(rate_limit=5, window_seconds=0.2)
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        client.get(CONTACTS)
    ok = [t for _m, _p, status, t in app.request_log if status == 200]
    for i, start in enumerate(ok):
        assert sum(1 for t in ok[i:] if t < start + 0.2) <= 5


@pytest.mark.parametrize(
    ("kind", "status"),
    [("429", 429), ("500", 500), ("502", 502), ("503", 503), ("423", 423), ("477", 477)],
)
def test_injected_faults(make_sandbox, kind, status):
    app, client = make_sandbox(fault_rates={kind: 1.0})
    response = client.get(CONTACTS)
    assert response.status_code == status
    assert app.state()["faultsInjected"] == {kind: 1}
    if kind == "502":
        assert response.headers["content-type"].startswith("text/html")
    if kind == "477":
        assert response.headers["Retry-After"] == "2"


def test_faults_are_reproducible_from_the_seed():
    def run(seed):
        app = HubSpotSandbox(fault_rates={"500": 0.3, "429": 0.2}, seed=seed)
        with client_for(app) as client:
            return [client.get(CONTACTS).status_code for _ in range(40)]

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_timeout_fault_with_and_without_the_write_applied(make_sandbox):
    app, client = make_sandbox(fault_rates={"timeout": 1.0}, timeout_seconds=0.01)
    inputs = {"inputs": [{"idProperty": "email", "id": "t@acme.com", "properties": {}}]}
    assert client.post(f"{CONTACTS}/batch/upsert", json=inputs).status_code == 504
    assert app.objects("contacts") == []
    app.configure(timeout_after_write=True)
    assert client.post(f"{CONTACTS}/batch/upsert", json=inputs).status_code == 504
    assert len(app.objects("contacts")) == 1  # applied, but the caller saw a timeout
    app.set_faults({})
    retry = client.post(f"{CONTACTS}/batch/upsert", json=inputs).json()
    assert retry["results"][0]["new"] is False


def test_latency(make_sandbox):
    _app, client = make_sandbox(latency_ms=50)
    started = time.monotonic()
    client.get(CONTACTS)
    assert time.monotonic() - started >= 0.05


def test_a_call_is_counted_and_logged_when_it_arrives_not_after_the_latency(make_sandbox):
    """HubSpot counts a call against the rolling window on receipt; the simulated latency
    must not shift it (a late count let bursts through the window in the soak benchmark)."""
    app, client = make_sandbox(latency_ms=300, rate_limit=1, window_seconds=10)
    sent = time.time()
    first = client.get(CONTACTS)
    logged_at = app.request_log[-1][3]

    assert first.status_code == 200
    assert sent <= logged_at < sent + 0.2  # before the 0.3 s of latency
    assert client.get(CONTACTS).status_code == 429  # the window was charged on arrival


def test_control_endpoints(app, client):
    config = client.post("/__sandbox__/config", json={"rate_limit": 7, "fault_rates": {"500": 0.5}})
    assert config.status_code == 200
    assert config.json()["rate_limit"] == 7
    assert app.config.fault_rates == {"500": 0.5}
    assert client.post("/__sandbox__/config", json={"nope": 1}).status_code == 400
    assert client.post("/__sandbox__/config", json={"fault_rates": {"418": 1}}).status_code == 400
    client.post("/__sandbox__/config", json={"fault_rates": {}})
    seeded = client.post(
        "/__sandbox__/seed",
        json={
            "objectType": "contacts",
            "records": [{"email": "s@acme.com"}],
            "owners": [{"email": "new.owner@acme.com"}],
        },
    )
    assert seeded.status_code == 201
    assert len(seeded.json()["ids"]) == 1
    client.get(CONTACTS)
    state = client.get("/__sandbox__/state").json()
    assert state["objects"]["contacts"] == 1
    assert state["requests"] == 1
    assert state["statuses"] == {"200": 1}
    assert state["owners"] == 4
    log = client.get("/__sandbox__/log").json()["results"]
    assert log[0]["method"] == "GET"
    assert log[0]["path"] == CONTACTS
    listed = client.get("/__sandbox__/objects/contacts").json()["results"]
    assert listed[0]["properties"]["email"] == "s@acme.com"
    assert client.post("/__sandbox__/reset").status_code == 200
    assert app.objects("contacts") == []
    assert app.request_log == []
    assert app.config.rate_limit == 7  # reset keeps the configuration


def test_the_rolling_window_counts_arrivals_even_when_they_are_handled_out_of_order():
    from sandbox.hubspot.ratelimit import RateLimits

    limits = RateLimits(rate_limit=2, window_seconds=10, search_per_second=5, daily_limit=None)
    assert limits.admit("app", 10.0, search=False, daily=False).allowed
    # A request that arrived at 5.0 but was handled after the one of 10.0 (its latency ran
    # longer): counted at its arrival, so it leaves the window at 15.0, not later.
    assert limits.admit("app", 5.0, search=False, daily=False).allowed
    assert not limits.admit("app", 14.9, search=False, daily=False).allowed

    verdict = limits.admit("app", 15.5, search=False, daily=False)

    assert verdict.allowed
    assert verdict.remaining == 0  # 10.0 and 15.5 in (5.5, 15.5]
