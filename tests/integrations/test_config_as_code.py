"""`config export` / `config apply` for connections."""

from __future__ import annotations

import pytest
import yaml
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from integrations.models import Connection

EXAMPLE = """\
connections:
  - name: hubspot-main
    provider: hubspot
    base_url: http://127.0.0.1:8765
    auth: {type: private_app, token: ${HUBSPOT_TOKEN}}
    rate_limit: {requests: 100, per_seconds: 10}
  - name: clay-inbound
    provider: clay
    auth: {type: hmac_sha256, secret: ${CLAY_WEBHOOK_SECRET}}
"""

TOKEN = "pat-na1-config-apply-token-0000000000"
CLAY_SECRET = "clay-shared-secret-0123456789"


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("HUBSPOT_TOKEN", TOKEN)
    monkeypatch.setenv("CLAY_WEBHOOK_SECRET", CLAY_SECRET)


@pytest.fixture
def example_file(tmp_path):
    path = tmp_path / "switchyard.yaml"
    path.write_text(EXAMPLE)
    return path


def apply(path, capsys) -> str:
    call_command("config", "apply", str(path))
    return capsys.readouterr().out


@pytest.mark.django_db
def test_the_documented_example_applies_as_written(env, example_file, capsys):
    out = apply(example_file, capsys)
    assert "connection hubspot-main: created" in out
    hubspot = Connection.objects.get(name="hubspot-main")
    assert (hubspot.provider, hubspot.auth_type, hubspot.token) == ("hubspot", "private_app", TOKEN)
    assert (hubspot.rate_limit_requests, hubspot.rate_limit_seconds) == (100, 10)
    clay = Connection.objects.get(name="clay-inbound")
    assert (clay.auth_type, clay.token) == ("hmac_sha256", CLAY_SECRET)


@pytest.mark.django_db
def test_applying_twice_changes_nothing(env, example_file, capsys):
    apply(example_file, capsys)
    events = AuditEvent.objects.count()
    updated = list(Connection.objects.values_list("updated_at", flat=True))
    assert apply(example_file, capsys).strip() == "Nothing to change."
    assert AuditEvent.objects.count() == events
    assert list(Connection.objects.values_list("updated_at", flat=True)) == updated


@pytest.mark.django_db
def test_a_changed_secret_in_the_environment_is_applied(env, example_file, capsys, monkeypatch):
    apply(example_file, capsys)
    monkeypatch.setenv("HUBSPOT_TOKEN", "pat-na1-rotated-token-111111111111")
    assert "hubspot-main: updated" in apply(example_file, capsys)
    assert Connection.objects.get(name="hubspot-main").token == "pat-na1-rotated-token-111111111111"


@pytest.mark.django_db
def test_export_prints_references_never_secrets(env, example_file, capsys):
    apply(example_file, capsys)
    call_command("config", "export")
    out = capsys.readouterr().out
    assert TOKEN not in out
    assert CLAY_SECRET not in out
    exported = yaml.safe_load(out)["connections"]
    hubspot = next(c for c in exported if c["name"] == "hubspot-main")
    assert hubspot["auth"] == {"type": "private_app", "token": "${HUBSPOT_TOKEN}"}


@pytest.mark.django_db
def test_export_then_apply_round_trips_without_changes(env, example_file, capsys, tmp_path):
    apply(example_file, capsys)
    call_command("config", "export")
    exported = tmp_path / "exported.yaml"
    exported.write_text(capsys.readouterr().out)
    assert apply(exported, capsys).strip() == "Nothing to change."


# Each broken item is the second connection, after a valid one: the valid one must not be
# half-applied. The message names the line and the key path of the problem.
_VALID = "connections:\n  - {name: good-one, provider: apollo}\n"


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (
            "  - name: x\n    provider: hubspt\n",
            "line 4: connections[1].provider: 'hubspt' is not one of hubspot,",
        ),
        (
            "  - name: x\n    provider: hubspot\n    auth: {type: private_app, token: pat-na1-literal}\n",
            "line 5: connections[1].auth.token: must be an ${ENV_VAR} reference, never a value",
        ),
        (
            "  - name: x\n    provider: hubspot\n    auth: {type: private_app, token: ${NOT_SET_ANYWHERE}}\n",
            "line 5: connections[1].auth.token: environment variable NOT_SET_ANYWHERE is not set",
        ),
        (
            "  - {name: x, provider: hubspot, rate_limit: {requests: 0, per_seconds: 10}}\n",
            "line 3: connections[1].rate_limit.requests: Input should be greater than 0",
        ),
        (
            "  - name: x\n    provider: hubspot\n    timeouts: {connect: abc}\n",
            "line 5: connections[1].timeouts.connect: Input should be a valid number",
        ),
        (
            "  - name: x\n    provider: hubspot\n    max_attempts: many\n",
            "line 5: connections[1].max_attempts: Input should be a valid integer",
        ),
        (
            "  - name: x\n    provider: hubspot\n    timeouts: fast\n",
            "line 5: connections[1].timeouts: must be a mapping",
        ),
        (
            "  - name: x\n    provider: hubspot\n    max_attempts: 0\n",
            "line 5: connections[1].max_attempts: Input should be greater than or equal to 1",
        ),
        (
            "  - name: x\n    provider: hubspot\n    retries: 3\n",
            "line 5: connections[1].retries: unknown key",
        ),
        (
            "  - name: x\n    auth: {type: none}\n",
            "line 3: connections[1].provider: is required",
        ),
        (
            "  - {name: good-one, provider: hubspot}\n",
            "line 3: connections[1].name: connection 'good-one' appears twice",
        ),
        ("  - name: [\n", "not valid YAML"),
    ],
)
@pytest.mark.django_db
def test_an_invalid_file_changes_nothing_and_names_the_line_and_key(env, tmp_path, item, message):
    path = tmp_path / "bad.yaml"
    path.write_text(_VALID + item)

    with pytest.raises(CommandError) as failure:
        call_command("config", "apply", str(path))

    assert message in str(failure.value)
    assert "nothing was changed" in str(failure.value)
    assert not Connection.objects.exists()


@pytest.mark.django_db
def test_an_unknown_section_is_named():
    from integrations.config_schema import ConfigError
    from pipelines.configuration import config_apply

    with pytest.raises(ConfigError, match=r"unknown section\(s\) conections; known: connections,"):
        config_apply(text="conections: []\n")
