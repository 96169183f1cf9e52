import logging

import pytest

from config.logging import MASK, RedactingFilter, register_secret


def render(msg, *args, exc_info=None) -> str:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, msg, args, exc_info)
    RedactingFilter().filter(record)
    formatter = logging.Formatter("%(message)s")
    return formatter.format(record)


@pytest.mark.parametrize(
    ("message", "leaked"),
    [
        ("Authorization: Bearer pat-na1-11111111-2222-3333-4444-555555555555", "pat-na1-1111"),
        ("headers={'authorization': 'Bearer abc.def.ghi'}", "abc.def.ghi"),
        ("posting with token=s3cr3t-value&x=1", "s3cr3t-value"),
        ('{"password": "hunter2hunter2"}', "hunter2hunter2"),
        ("X-Api-Key: apollo-key-123456", "apollo-key-123456"),
        ("client_secret=shhh-very-secret", "shhh-very-secret"),
        ("slack said no to xoxb-12345-fake-abcdefghij", "xoxb-12345-fake"),
        ("sent to https://hooks.slack.com/services/T000/B000/XXXXXXXX", "T000/B000"),
        ("contact ada.lovelace@example.com rejected", "ada.lovelace@example.com"),
        (
            "GET https://api.builtwith.com/v21/api.json?KEY=bw-secret-key&LOOKUP=acme.com",
            "bw-secret-key",
        ),
    ],
)
def test_redacts_tokens_passwords_authorization_and_emails(message, leaked):
    out = render(message)
    assert leaked not in out
    assert MASK in out or "[EMAIL]" in out


def test_redacts_values_passed_as_arguments():
    out = render("syncing %s with %s", "bob@example.com", {"api_key": "k-999999"})
    assert "bob@example.com" not in out
    assert "k-999999" not in out
    assert "syncing" in out


def test_redacts_registered_secret_of_any_shape():
    register_secret("Zq8-odd-shaped-secret")
    out = render("upstream echoed Zq8-odd-shaped-secret back")
    assert "Zq8-odd-shaped-secret" not in out
    assert f"upstream echoed {MASK} back" in out  # the record is kept, only the value masked


def test_redacts_tracebacks():
    try:
        raise ValueError("token=abc123secret for carol@example.com")
    except ValueError:
        import sys

        out = render("failed", exc_info=sys.exc_info())
    assert "abc123secret" not in out
    assert "carol@example.com" not in out
    assert "ValueError" in out


def test_configured_handlers_redact(caplog):
    # The filter is wired on the console handler of the real LOGGING setting.
    from django.conf import settings

    assert "redact" in settings.LOGGING["handlers"]["console"]["filters"]


def test_leaves_ordinary_messages_alone():
    assert (
        render("run 42 finished: 10 succeeded, 0 failed")
        == "run 42 finished: 10 succeeded, 0 failed"
    )
