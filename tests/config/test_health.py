import json

import pytest


@pytest.mark.django_db
def test_healthz_answers_without_authentication(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_reports_database_broker_and_migrations(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "migrations", "broker"}


@pytest.mark.django_db
def test_readyz_is_unavailable_when_the_database_is_down(client, monkeypatch):
    from config import health

    monkeypatch.setattr(health, "_check_database", lambda: (False, "OperationalError"))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "OperationalError"


@pytest.mark.django_db
def test_readyz_is_unavailable_with_pending_migrations(client, monkeypatch):
    from config import health

    monkeypatch.setattr(health, "_check_migrations", lambda: (False, "3 pending"))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["migrations"] == "3 pending"


@pytest.mark.django_db
def test_health_replies_carry_no_configuration(client, settings):
    reply = client.get("/readyz").json()
    assert reply  # a reply was given (the checks it reports), just without configuration
    body = json.dumps(reply)
    for secret in (
        settings.SECRET_KEY,
        settings.FIELD_ENCRYPTION_KEYS[0],
        settings.CELERY_BROKER_URL,
    ):
        assert secret not in body


@pytest.mark.django_db
def test_every_response_carries_a_request_id(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="abc12345-trace")
    assert response["X-Request-ID"] == "abc12345-trace"
    assert len(client.get("/healthz")["X-Request-ID"]) == 32
