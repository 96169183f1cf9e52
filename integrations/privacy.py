"""Personal data held outside Switchyard, in the providers' CRMs: HubSpot's GDPR delete.

Registered with audit.privacy from IntegrationsConfig.ready(). This app knows connections,
not workflows (docs/architecture.md: integrations never imports pipelines), so the store covers
every HubSpot connection that is not disabled: a person erased from Switchyard must also go
from every portal we may have written them to. The warehouse tables are named by workflows,
so their store is registered by pipelines (pipelines/privacy_stores.py).
"""

from __future__ import annotations

import logging
from typing import Any

from integrations.models import Connection, ConnectionStatus, Provider

logger = logging.getLogger(__name__)


def _hubspot_connections() -> list[Connection]:
    # A disabled connection was switched off on purpose (an old portal, revoked token);
    # calling it would only fail every erasure. Paused ones are tried and fail loudly.
    return list(
        Connection.objects.filter(provider=Provider.HUBSPOT).exclude(
            status=ConnectionStatus.DISABLED
        )
    )


class HubSpotContactStore:
    """The contact in each HubSpot portal: read for access exports, GDPR-deleted on erasure.

    `erase` tries every portal and only then raises, naming the portals that failed (the
    receipt records the store as failed and the request as partial; a rerun finishes it:
    HubSpot's GDPR delete of an already deleted email is harmless).
    """

    name = "integrations.hubspot_contacts"

    def _client(self, connection: Connection) -> Any:
        from integrations.registry import client_for  # at call time: tests swap the transport

        return client_for(connection)

    def _contacts(self, client: Any, email: str, properties: list[str]) -> list[Any]:
        result = client.batch_read("contacts", [email], id_property="email", properties=properties)
        return list(result.succeeded)

    def find(self, email: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for connection in _hubspot_connections():
            with self._client(connection) as client:
                # Every property the portal defines: an access export is everything held.
                properties = [p["name"] for p in client.properties("contacts")]
                for row in self._contacts(client, email, properties):
                    values = {k: v for k, v in row.properties.items() if v not in (None, "")}
                    found.append(
                        {"connection": connection.name, "id": row.object_id, "properties": values}
                    )
        return found

    def erase(self, email: str) -> int:
        removed, failures = 0, []
        for connection in _hubspot_connections():
            try:
                with self._client(connection) as client:
                    existed = bool(self._contacts(client, email, ["email"]))
                    # Sent even when the contact is not there: HubSpot then blocklists the
                    # email, so a later form fill or import in that portal cannot recreate
                    # the person.
                    client.gdpr_delete_contact(email)
                    removed += int(existed)
            except Exception as exc:  # noqa: BLE001 - try every portal, then report the failures
                logger.warning("GDPR delete in %s failed: %s", connection.name, type(exc).__name__)
                failures.append(f"{connection.name}: {type(exc).__name__}: {exc}")
        if failures:
            raise HubSpotErasureFailed("; ".join(failures) + f" ({removed} deleted elsewhere)")
        return removed


class HubSpotErasureFailed(Exception):
    """At least one portal could not be reached or refused the GDPR delete."""


def privacy_register() -> None:
    from audit.privacy import register_store

    register_store(HubSpotContactStore())
