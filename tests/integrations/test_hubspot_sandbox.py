"""HubSpotClient against the HubSpot sandbox (a WSGI test double), end to end through httpx."""

from __future__ import annotations

import httpx
import pytest

from integrations.auth import BearerAuth
from integrations.hubspot import BatchRejected, HubSpotClient
from integrations.transport import ClientConfig

sandbox = pytest.importorskip("sandbox.hubspot", reason="the HubSpot sandbox is not in this tree")


def test_batch_upsert_creates_then_updates_by_email(records):
    app = sandbox.HubSpotSandbox()
    hub = HubSpotClient(
        ClientConfig(base_url="http://sandbox.test"),
        BearerAuth("pat-na1-sandbox"),
        transport=httpx.WSGITransport(app=app),
        on_request=records.append,
        sleep=lambda s: None,
    )
    inputs = [
        {
            "id": f"p{i}@acme.com",
            "properties": {"email": f"p{i}@acme.com", "firstname": f"P{i}"},
            "objectWriteTraceId": f"rr-{i}",
        }
        for i in range(3)
    ]
    first = hub.batch_upsert("contacts", inputs)
    assert first.ok
    assert sorted(s.index for s in first.succeeded) == [0, 1, 2]
    assert all(s.new for s in first.succeeded)

    inputs[1]["properties"]["firstname"] = "Renamed"
    second = hub.batch_upsert("contacts", inputs[:2])
    by_index = {s.index: s for s in second.succeeded}
    assert set(by_index) == {0, 1}
    assert not any(s.new for s in second.succeeded)
    assert by_index[1].object_id == next(s.object_id for s in first.succeeded if s.index == 1)

    found = hub.batch_read(
        "contacts", ["p1@acme.com"], id_property="email", properties=["firstname"]
    )
    assert found.succeeded[0].properties["firstname"] == "Renamed"
    assert {r.path_template for r in records} == {
        "/crm/v3/objects/{type}/batch/upsert",
        "/crm/v3/objects/{type}/batch/read",
    }
    assert all(r.rate_limit_remaining is not None for r in records)


@pytest.mark.parametrize("mode", ["per_input_207_with_trace_id", "auto", "whole_batch_400"])
def test_invalid_inputs_are_attributed_by_either_error_mode(records, mode):
    app = sandbox.HubSpotSandbox(batch_error_mode=mode)
    hub = HubSpotClient(
        ClientConfig(base_url="http://sandbox.test"),
        BearerAuth("pat-na1-sandbox"),
        transport=httpx.WSGITransport(app=app),
        sleep=lambda s: None,
    )
    inputs = [
        {"id": "ok@acme.com", "properties": {"email": "ok@acme.com"}, "objectWriteTraceId": "t0"},
        {"id": "bad@@acme", "properties": {"email": "bad@@acme"}, "objectWriteTraceId": "t1"},
        {
            "id": "c@acme.com",
            "properties": {"email": "c@acme.com", "no_such_prop": "1"},
            "objectWriteTraceId": "t2",
        },
    ]
    if mode in ("auto", "whole_batch_400"):  # an email upsert fails whole by default
        with pytest.raises(BatchRejected) as rejected:
            hub.batch_upsert("contacts", inputs)
        assert rejected.value.input_indexes == [1, 2]
        return
    result = hub.batch_upsert("contacts", inputs)
    assert [s.index for s in result.succeeded] == [0]
    assert sorted(f.index for f in result.failed) == [1, 2]
