"""HubSpot owners, and the checks that keep rules and territories pointing at real things."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.services import audit_event_record
from pipelines.models import Owner, RoutingConfig
from pipelines.routing.leads import COMPANY_PROPERTIES, CONTACT_PROPERTIES, unknown_properties
from pipelines.routing.rules import RuleError, conditions_parse, properties_referenced

STANDARD_PROPERTIES = {
    "contacts": {
        *CONTACT_PROPERTIES,
        "phone",
        "mobilephone",
        "website",
        "address",
        "zip",
        "annualrevenue",
        "hs_lead_status",
        "createdate",
        "hs_object_id",
    },
    "companies": {
        *COMPANY_PROPERTIES,
        "website",
        "phone",
        "description",
        "lifecyclestage",
        "createdate",
        "hs_object_id",
    },
}


def owners_sync(*, connection: Any, actor_label: str = "routing: owner sync") -> dict[str, int]:
    """Mirror GET /crm/v3/owners (docs/reference/hubspot.md#owners) of this connection's portal: names,
    e-mails, archived state. Owners this portal no longer lists are marked archived (kept, so
    old decisions still name them); another portal's owners are left alone."""
    from integrations.registry import client_for

    with client_for(connection) as client:
        remote = list(client.owners())
    now, seen, counts = timezone.now(), set(), {"created": 0, "updated": 0, "archived": 0}
    with transaction.atomic():
        mine = Owner.objects.filter(hubspot_connection=connection)
        existing = {o.hubspot_id: o for o in mine}
        placeholders = {o.hubspot_id: o for o in Owner.objects.filter(hubspot_connection=None)}
        for item in remote:
            hubspot_id = str(item["id"])
            if hubspot_id in seen:
                continue
            seen.add(hubspot_id)
            fields = {
                "hubspot_connection": connection,
                "email": item.get("email") or "",
                "first_name": item.get("firstName") or "",
                "last_name": item.get("lastName") or "",
                "archived": bool(item.get("archived")),
                "synced_at": now,
            }
            owner = existing.get(hubspot_id) or placeholders.get(hubspot_id)
            if owner is None:
                Owner.objects.create(hubspot_id=hubspot_id, **fields)
                counts["created"] += 1
            else:
                counts["updated"] += any(
                    getattr(owner, k) != v
                    for k, v in fields.items()
                    if k not in ("synced_at", "hubspot_connection")
                )
                Owner.objects.filter(pk=owner.pk).update(**fields)
        gone = mine.exclude(hubspot_id__in=seen).filter(archived=False, synced_at__isnull=False)
        counts["archived"] = gone.update(archived=True, synced_at=now)
    audit_event_record(
        action="routing.owners_synced", actor_label=actor_label, obj=connection, metadata=counts
    )
    return counts


def owners_sync_for_routing() -> dict[str, dict[str, int]]:
    """The beat schedule's work: sync owners from every HubSpot connection routing uses, so an
    owner who left the company is skipped (and flagged in rules) within the hour, not at the
    next manual sync."""
    from integrations.models import Connection

    results = {}
    used = RoutingConfig.objects.values("hubspot_connection")
    for connection in Connection.objects.filter(pk__in=used, provider="hubspot").order_by("name"):
        results[connection.name] = owners_sync(
            connection=connection, actor_label="beat: owner sync"
        )
    return results


def owner_problem(owner: Owner) -> str:
    """Why an owner cannot be put in a territory, or ""."""
    if owner.archived:
        return f"owner {owner.hubspot_id} ({owner.name}) no longer exists in HubSpot (archived at the last owner sync)"
    return ""


def rule_problems(*, config: RoutingConfig | None, conditions: Any) -> list[str]:
    """Every reason the conditions cannot be saved: bad syntax, or a property HubSpot lacks.
    Raises integrations.errors.ProviderError when HubSpot cannot be asked."""
    try:
        parsed = conditions_parse(conditions)
    except RuleError as error:
        return [str(error)]
    if config is None:
        return []
    # HubSpot's default properties exist in every portal (docs/reference/hubspot.md#properties), and the named
    # fields read only those: only other contact.x / company.x names need asking HubSpot.
    custom = {
        (obj, prop)
        for obj, prop in properties_referenced(c for c in parsed if "." in c.field)
        if prop not in STANDARD_PROPERTIES[obj]
    }
    return unknown_properties(connection=config.hubspot_connection, needed=custom)
