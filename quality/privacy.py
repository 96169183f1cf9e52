"""Portal snapshots hold HubSpot contacts' personal data: the privacy module finds and erases
them by email like every other store."""

from __future__ import annotations

from typing import Any

from quality.models import PortalRecord


class PortalRecordStore:
    name = "quality.portal_records"

    def find(self, email: str) -> list[dict[str, Any]]:
        return [
            {"hubspot_id": r.hubspot_id, "object_type": r.object_type, "properties": r.properties}
            for r in PortalRecord.objects.filter(email=email.strip().lower())
        ]

    def erase(self, email: str) -> int:
        deleted, _ = PortalRecord.objects.filter(email=email.strip().lower()).delete()
        return deleted


def privacy_register() -> None:
    from audit import privacy

    privacy.register_store(PortalRecordStore())
