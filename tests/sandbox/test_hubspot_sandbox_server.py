"""The sandbox over real HTTP: serve() on a free port, and ``python -m sandbox.hubspot``."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from sandbox.hubspot import HubSpotSandbox, serve

from .conftest import TOKEN

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def served():
    app = HubSpotSandbox(rate_limit=1000)
    server, thread = serve(app, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.server_port}"
    yield app, base
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_real_http_request(served):
    app, base = served
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        response = client.post(
            "/crm/v3/objects/contacts/batch/upsert",
            json={
                "inputs": [
                    {
                        "idProperty": "email",
                        "id": "net@acme.com",
                        "properties": {"firstname": "Net"},
                    }
                ]
            },
        )
    assert response.status_code == 200
    assert response.headers["X-HubSpot-RateLimit-Max"] == "1000"
    assert app.objects("contacts")[0]["properties"]["firstname"] == "Net"


def test_concurrent_upserts_create_each_email_once(served):
    app, base = served

    def upsert(n: int) -> int:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
            inputs = [
                {"idProperty": "email", "id": f"c{i}@acme.com", "properties": {}} for i in range(20)
            ]
            return c.post(
                "/crm/v3/objects/contacts/batch/upsert", json={"inputs": inputs}
            ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(upsert, range(16))) == {200}
    assert len(app.objects("contacts")) == 20


def test_drop_mode_closes_the_connection_without_a_response(served):
    app, base = served
    app.configure(
        fault_rates={"timeout": 1.0},
        timeout_seconds=0.01,
        timeout_mode="drop",
        timeout_after_write=True,
    )
    with (
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}) as client,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        client.post("/crm/v3/objects/contacts", json={"properties": {"email": "lost@acme.com"}})
    assert len(app.objects("contacts")) == 1  # applied but the response was lost


def test_module_entry_point_serves_until_terminated():
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox.hubspot", "--port", "0", "--rate-limit", "50"],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stderr.readline()
        assert line.startswith("HubSpot sandbox on http://127.0.0.1:"), line
        base = line.split(" on ", 1)[1].strip()
        response = httpx.get(
            f"{base}/crm/v3/owners", headers={"Authorization": "Bearer x"}, timeout=5
        )
        assert response.status_code == 200
        assert response.headers["X-HubSpot-RateLimit-Max"] == "50"
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
        process.stderr.close()
