"""One delivery attempt per subscriber kind, through the connection's client.

Each sender makes exactly one call (the client's in-process retries are off: the delivery
row schedules retries, so a failing subscriber never holds a worker). It returns what the
receiver gave back (Slack ts, HubSpot id) or raises the client's ProviderError. Idempotency
keys go where the receiver honours one (docs/events.md, "Idempotency").
"""

from __future__ import annotations

import json
import time
from typing import Any

from events.models import Delivery
from integrations import standard_webhooks
from integrations.errors import ProviderError, RequestRejected
from integrations.hubspot.client import HubSpotClient

# HUBSPOT_DEFINED association type ids from a created engagement to its record
# (docs/events.md, "HubSpot actions").
ASSOCIATION_TYPES = {
    ("tasks", "deals"): 216,
    ("tasks", "contacts"): 204,
    ("tasks", "companies"): 192,
    ("notes", "deals"): 214,
    ("notes", "contacts"): 202,
    ("notes", "companies"): 190,
    ("deals", "contacts"): 3,
    ("deals", "companies"): 341,
}


def send(*, delivery: Delivery, client: Any, signing_secrets: list[str]) -> dict[str, Any]:
    kind = delivery.subscriber.kind
    payload = delivery.payload
    key = delivery.idempotency_key
    if kind == "slack":
        answer = client.post_message(payload["channel"], payload["text"])
        return {"ts": answer.get("ts"), "channel": answer.get("channel")}
    if kind == "clay_table":
        client.row_send(payload["row"], idempotency_key=key)
        return {}
    if kind == "http":
        return _http_send(client, payload, key, signing_secrets)
    if kind in ("hubspot_task", "hubspot_note", "hubspot_record"):
        return _hubspot_create(client, payload, key)
    if kind == "hubspot_property":
        result = client.batch_update(
            payload["object_type"],
            [
                {
                    "id": payload["object_id"],
                    "properties": payload["properties"],
                    "objectWriteTraceId": key,
                }
            ],
        )
        _raise_failures(result)
        return {"id": payload["object_id"]}
    if kind == "warehouse":
        _warehouse_upsert(client, payload["table"], [_warehouse_row(payload)])
        return {}
    raise ValueError(f"unknown subscriber kind {kind!r}")


# Kinds whose claimed deliveries go out together: the warehouse takes a batch of rows as one
# upsert on event_id (one database connection and one commit instead of one per row), and a
# repeat of the batch writes the same rows again.
BATCHED_KINDS = {"warehouse"}


def send_batch(*, deliveries: list[Delivery], client: Any) -> None:
    """Send deliveries of one BATCHED_KINDS subscriber together; raises if the batch failed
    (the caller then sends them one by one, so each gets its own outcome)."""
    by_table: dict[str, list[dict[str, Any]]] = {}
    for delivery in deliveries:
        by_table.setdefault(delivery.payload["table"], []).append(_warehouse_row(delivery.payload))
    for table, rows in by_table.items():
        if len({tuple(sorted(row)) for row in rows}) > 1:
            raise ValueError("rows with different columns are sent one by one")
        _warehouse_upsert(client, table, rows)


def _warehouse_row(payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload["row"], "fields": json.dumps(payload["row"].get("fields") or {})}


def _warehouse_upsert(client: Any, table: str, rows: list[dict[str, Any]]) -> None:
    ensured = getattr(client, "_events_tables", None)
    if ensured is None:
        ensured = set()
        client._events_tables = ensured
    if table not in ensured:  # once per client, not once per row
        client.ensure_table(table, dict.fromkeys(rows[0], "text"), "event_id")
        ensured.add(table)
    client.upsert(table, rows, "event_id")


def _http_send(client: Any, payload: dict, key: str, secrets: list[str]) -> dict[str, Any]:
    """Signed per Standard Webhooks; ``webhook-id`` and ``Idempotency-Key`` are the delivery's
    stable key, so a receiver sees a retry as the same message."""
    body = json.dumps(payload["body"], separators=(",", ":"), sort_keys=True).encode()
    headers = standard_webhooks.sign_headers(
        secrets=secrets, message_id=key, timestamp=int(time.time()), body=body
    )
    headers["Idempotency-Key"] = key
    headers["Content-Type"] = "application/json"
    response = client.http.request(
        "POST", payload["path"], raw_path=payload["path"], content=body, headers=headers
    )
    if 300 <= response.status_code < 400:
        # A redirect is a failure, never followed (docs/events.md, "Retries").
        raise ProviderError(
            f"HTTP POST -> {response.status_code}: redirect not followed",
            status=response.status_code,
        )
    return {"status": response.status_code}


def _hubspot_create(client: HubSpotClient, payload: dict, key: str) -> dict[str, Any]:
    target = payload.get("associate") or {}
    item: dict[str, Any] = {"properties": payload["properties"], "objectWriteTraceId": key}
    type_id = ASSOCIATION_TYPES.get((payload["create"], target.get("object_type")))
    if type_id and target.get("object_id"):
        item["associations"] = [
            {
                "to": {"id": str(target["object_id"])},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
            }
        ]
    result = client.batch_create(payload["create"], [item])
    _raise_failures(result)
    return {"id": result.succeeded[0].object_id if result.succeeded else None}


def _raise_failures(result: Any) -> None:
    if result.failed:
        failure = result.failed[0]
        raise RequestRejected(
            f"HubSpot refused the write ({failure.category or failure.status})",
            status=failure.status,
            category=failure.category,
        )
