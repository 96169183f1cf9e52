"""The Slack stand-in, driven through the production path (``registry.client_for``) where a
client exists, and directly over HTTP for what Slack does that no client call shows."""

from __future__ import annotations

import httpx
import pytest

from integrations import registry
from integrations.errors import AuthFailed, RequestRejected
from integrations.models import AuthType, Provider
from sandbox.slack import SlackSandbox, serve
from tests.integrations.factories import ConnectionFactory

BOT_TOKEN = "xoxb-sandbox-test-token"
HOOK = "https://hooks.slack.com/services/T000/B0HOOK/SECRET123"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def slack(monkeypatch, clock):
    app = SlackSandbox(clock=clock)
    monkeypatch.setitem(registry.TRANSPORT_OVERRIDES, "slack", httpx.WSGITransport(app=app))
    return app


@pytest.fixture
def bot(db):
    return ConnectionFactory(
        name="slack-bot", provider=Provider.SLACK, auth_type=AuthType.BEARER, base_url="",
        token=BOT_TOKEN, max_attempts=1,
    )  # fmt: skip


@pytest.fixture
def hook(db):
    return ConnectionFactory(
        name="slack-hook", provider=Provider.SLACK, auth_type=AuthType.WEBHOOK_URL, base_url="",
        token=HOOK, max_attempts=1,
    )  # fmt: skip


def raw(app: SlackSandbox) -> httpx.Client:
    return httpx.Client(transport=httpx.WSGITransport(app=app), base_url="https://slack.com")


def test_a_bot_message_arrives_and_can_be_read_back(slack, bot):
    with registry.client_for(bot) as client:
        answer = client.post_message(
            "C0RUNS", "clay-to-hubspot: 40 synced", blocks=[{"type": "divider"}]
        )
    assert answer["ok"] is True
    assert answer["channel"] == "C0RUNS"
    [message] = slack.messages("C0RUNS")
    assert message["text"] == "clay-to-hubspot: 40 synced"
    assert message["blocks"] == [{"type": "divider"}]
    assert (message["via"], message["ts"]) == ("chat.postMessage", answer["ts"])


def test_a_client_with_the_old_base_url_is_refused_as_real_slack_would(slack, bot):
    bot.base_url = "https://slack.com"  # /chat.postMessage outside /api/: slack.com's HTML 404
    bot.save()
    with registry.client_for(bot) as client, pytest.raises(RequestRejected):
        client.post_message("C0RUNS", "lost")
    assert slack.messages() == []


def test_errors_are_ok_false_on_http_200_and_nothing_is_posted(slack, bot):
    slack.configure(archived_channels={"C0OLD"})
    with raw(slack) as http:
        reply = http.post(
            "/api/chat.postMessage",
            json={"channel": "C0OLD", "text": "x"},
            headers={"Authorization": f"Bearer {BOT_TOKEN}"},
        )
    assert (reply.status_code, reply.json()) == (200, {"ok": False, "error": "is_archived"})
    with registry.client_for(bot) as client, pytest.raises(RequestRejected) as gone:
        client.post_message("C0OLD", "x")
    assert gone.value.category == "is_archived"
    assert gone.value.context["disable_destination"] is True
    assert slack.messages() == []


def test_an_unknown_token_is_invalid_auth(slack, bot):
    slack.configure(tokens={"xoxb-the-real-one"})
    with registry.client_for(bot) as client, pytest.raises(AuthFailed) as refused:
        client.ping()
    assert refused.value.category == "invalid_auth"
    slack.configure(tokens=None)
    with registry.client_for(bot) as client:
        assert client.ping()["team_id"] == "T0SANDBOX"


def test_missing_text_and_too_many_blocks_are_refused(slack):
    headers = {"Authorization": f"Bearer {BOT_TOKEN}"}
    with raw(slack) as http:
        empty = http.post("/api/chat.postMessage", json={"channel": "C1"}, headers=headers)
        blocks = http.post(
            "/api/chat.postMessage",
            json={"channel": "C1", "text": "x", "blocks": [{"type": "divider"}] * 51},
            headers=headers,
        )
        unauthenticated = http.post("/api/chat.postMessage", json={"channel": "C1", "text": "x"})
    assert empty.json()["error"] == "no_text"
    assert blocks.json()["error"] == "invalid_blocks"
    assert unauthenticated.json() == {"ok": False, "error": "not_authed"}
    assert slack.messages() == []


def test_about_one_message_per_second_per_channel_then_429_with_retry_after(slack, clock):
    headers = {"Authorization": f"Bearer {BOT_TOKEN}"}
    with raw(slack) as http:

        def post(channel: str) -> httpx.Response:
            body = {"channel": channel, "text": "x"}
            return http.post("/api/chat.postMessage", json=body, headers=headers)

        assert [post("C1").status_code for _ in range(3)] == [200, 200, 200]  # a short burst
        limited = post("C1")
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "1"
        assert limited.json() == {"ok": False, "error": "ratelimited"}
        assert post("C2").status_code == 200  # the limit is per channel
        clock.now += 1.0
        assert post("C1").status_code == 200
        assert post("C1").status_code == 429
    assert len(slack.messages("C1")) == 4


def test_conversations_open_gives_the_dm_channel_messages_land_in(slack, bot):
    with registry.client_for(bot) as client:
        channel = client.open_dm("U0REP1")
        client.post_message(channel, "New MQL for you")
    assert channel == "D0REP1"
    assert [m["text"] for m in slack.messages("D0REP1")] == ["New MQL for you"]


def test_incoming_webhook_posts_and_its_plain_text_errors(slack, hook):
    with registry.client_for(hook) as client:
        client.post("run 7 finished")
    assert [m["text"] for m in slack.messages("webhook:B0HOOK")] == ["run 7 finished"]
    with raw(slack) as http:
        bad = http.post("/services/T000/B0HOOK/SECRET123", content=b"{not json")
        empty = http.post("/services/T000/B0HOOK/SECRET123", json={})
    assert (bad.status_code, bad.text) == (400, "invalid_payload")
    assert (empty.status_code, empty.text) == (400, "no_text")
    slack.kill_webhook("/services/T000/B0HOOK/SECRET123", "no_service")
    with registry.client_for(hook) as client, pytest.raises(RequestRejected) as gone:
        client.post("lost")
    assert (gone.value.status, gone.value.category) == (404, "no_service")
    assert gone.value.context["disable_destination"] is True
    slack.kill_webhook("/services/T000/B0HOOK/SECRET123", "channel_is_archived")
    with raw(slack) as http:
        archived = http.post("/services/T000/B0HOOK/SECRET123", json={"text": "x"})
    assert (archived.status_code, archived.text) == (410, "channel_is_archived")
    assert len(slack.messages()) == 1


def test_control_surface_over_real_http():
    app = SlackSandbox()
    server, thread = serve(app, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with httpx.Client(base_url=base) as http:
            posted = http.post(
                "/api/chat.postMessage",
                data={"channel": "C9", "text": "form-encoded <b>"},
                headers={"Authorization": f"Bearer {BOT_TOKEN}"},
            )
            assert posted.json()["ok"] is True
            assert (
                http.get("/__sandbox__/messages", params={"channel": "C9"}).json()["messages"][0][
                    "text"
                ]
                == "form-encoded <b>"
            )
            assert http.get("/__sandbox__/messages", params={"channel": "C8"}).json() == {
                "messages": []
            }
            page = http.get("/")
            assert "form-encoded &lt;b&gt;" in page.text
            assert http.post("/__sandbox__/config", json={"burst": 5}).json()["burst"] == 5
            assert http.post("/__sandbox__/config", json={"colour": "red"}).status_code == 400
            assert http.post("/__sandbox__/reset").status_code == 200
            assert app.messages() == []
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_json_body_without_charset_is_answered_with_slacks_warning(slack, bot):
    with raw(slack) as http:
        reply = http.post(
            "/api/chat.postMessage",
            json={"channel": "C1", "text": "x"},
            headers={"Authorization": f"Bearer {BOT_TOKEN}"},
        )
    assert reply.json()["warning"] == "missing_charset"
    with registry.client_for(bot) as client:
        assert "warning" not in client.post_message("C1", "y")  # the client names its charset
