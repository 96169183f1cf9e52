"""Reading the object an event is about, for templates (HubSpot sends only what changed)."""

from __future__ import annotations

from typing import Any

from integrations.models import Connection
from integrations.registry import client_for

_PLURAL = {"deal": "deals", "contact": "contacts", "company": "companies", "ticket": "tickets"}


def hubspot_object_properties(
    *, connection_name: str, object_type: str, object_id: str, properties: list[str]
) -> dict[str, Any]:
    connection = Connection.objects.get(name=connection_name)
    client = client_for(connection)
    try:
        result = client.batch_read(
            _PLURAL.get(object_type, object_type), [object_id], properties=properties
        )
    finally:
        client.close()
    if not result.succeeded:
        return {}
    values = result.succeeded[0].properties or {}
    return {name: values.get(name) for name in properties if name in values}
