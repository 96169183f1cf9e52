"""In-memory CRM state: objects, associations, owners, the GDPR blocklist.

Not thread-safe by itself: the app holds one lock around every call (see app.py).
"""

from __future__ import annotations

import copy
import time
from typing import Any

from .schema import (
    DEFAULT_PROPERTIES,
    LAST_MODIFIED,
    OBJECT_TYPES,
    default_properties,
    iso_now,
)

# HUBSPOT_DEFINED association types (docs/reference/hubspot.md#associations): (from, typeId) → (to, inverse typeId,
# v3 type name, label). One-way ids; the inverse is stored alongside so both sides read back.
ASSOCIATION_TYPES: dict[tuple[str, int], tuple[str, int, str, str | None]] = {
    ("contacts", 279): ("companies", 280, "contact_to_company_unlabeled", None),
    ("contacts", 1): ("companies", 2, "contact_to_company", "Primary"),
    ("contacts", 4): ("deals", 3, "contact_to_deal", None),
    ("companies", 280): ("contacts", 279, "company_to_contact_unlabeled", None),
    ("companies", 2): ("contacts", 1, "company_to_contact", "Primary"),
    ("companies", 342): ("deals", 341, "company_to_deal_unlabeled", None),
    ("companies", 6): ("deals", 5, "company_to_deal", "Primary"),
    ("deals", 3): ("contacts", 4, "deal_to_contact", None),
    ("deals", 341): ("companies", 342, "deal_to_company_unlabeled", None),
    ("deals", 5): ("companies", 6, "deal_to_company", "Primary"),
}
# The unlabeled type used by the v4 "default" association endpoints.
DEFAULT_ASSOCIATION = {
    (frm, to): type_id
    for (frm, type_id), (to, _inv, _name, label) in ASSOCIATION_TYPES.items()
    if label is None
}

DEFAULT_OWNERS = [
    {"email": "ava.owner@example.com", "firstName": "Ava", "lastName": "Owner"},
    {"email": "ben.rep@example.com", "firstName": "Ben", "lastName": "Rep"},
    {"email": "cara.sdr@example.com", "firstName": "Cara", "lastName": "Sdr"},
]


class CrmStore:
    """Objects per type, keyed by string id; unique-value indexes; associations; owners."""

    def __init__(
        self,
        owners: list[dict[str, Any]] | None = None,
        unique_properties: dict[str, list[str]] | None = None,
    ) -> None:
        self._owner_seed = copy.deepcopy(owners if owners is not None else DEFAULT_OWNERS)
        self._unique_seed = {k: list(v) for k, v in (unique_properties or {}).items()}
        self.reset()

    def reset(self) -> None:
        self.properties = default_properties()
        # Property groups per object, seeded from the groups the default properties use.
        self.groups: dict[str, dict[str, dict[str, Any]]] = {
            obj: {
                p["groupName"]: {
                    "name": p["groupName"],
                    "label": p["groupName"].replace("information", " information").title(),
                    "displayOrder": -1,
                    "archived": False,
                }
                for p in props.values()
            }
            for obj, props in self.properties.items()
        }
        for obj, names in self._unique_seed.items():
            for name in names:
                if name in self.properties[obj]:
                    self.properties[obj][name]["hasUniqueValue"] = True
        self.records: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in OBJECT_TYPES}
        self.associations: dict[tuple[str, str], dict[tuple[str, str], set[int]]] = {}
        self.blocklist: set[str] = set()
        self._next_id = 1001
        self._index: dict[str, dict[str, dict[str, str]]] = {t: {} for t in OBJECT_TYPES}
        self._rebuild_indexes()
        self.owners: list[dict[str, Any]] = []
        for owner in self._owner_seed:
            self.add_owner(owner)

    # --- ids and indexes ---------------------------------------------------------------
    def new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def indexed_properties(self, obj: str) -> set[str]:
        names = {n for n, p in self.properties[obj].items() if p.get("hasUniqueValue")}
        if obj == "contacts":
            # contacts are unique by email (docs/reference/hubspot.md#batch-endpoints)
            names.add("email")
        return names

    def _rebuild_indexes(self) -> None:
        for obj in OBJECT_TYPES:
            self._index[obj] = {name: {} for name in self.indexed_properties(obj)}
            for rec in self.records[obj].values():
                self._index_record(obj, rec)

    def _index_record(self, obj: str, rec: dict[str, Any], remove: bool = False) -> None:
        if rec["archived"] and not remove:
            return
        for name, index in self._index[obj].items():
            value = rec["properties"].get(name)
            if value:
                key = value.lower()
                if remove:
                    if index.get(key) == rec["id"]:
                        del index[key]
                else:
                    index[key] = rec["id"]

    def find(
        self, obj: str, value: str, id_property: str | None = None, *, archived: bool = False
    ) -> dict[str, Any] | None:
        """Look a record up by id, or by the value of a unique property (case-insensitive)."""
        if not id_property or id_property == "hs_object_id":
            rec = self.records[obj].get(str(value))
        else:
            index = self._index[obj].get(id_property)
            if index is not None:
                rec_id = index.get(str(value).strip().lower())
                rec = self.records[obj].get(rec_id) if rec_id else None
            else:
                rec = next(
                    (
                        r
                        for r in self.records[obj].values()
                        if r["properties"].get(id_property) == value and not r["archived"]
                    ),
                    None,
                )
        if rec is None or rec["archived"] != archived:
            return None
        return rec

    # --- writes -------------------------------------------------------------------------
    def create(self, obj: str, values: dict[str, str | None]) -> dict[str, Any]:
        now = iso_now()
        rec_id = self.new_id()
        props = {k: v for k, v in values.items() if v is not None}
        props.update({"hs_object_id": rec_id, "createdate": now, LAST_MODIFIED[obj]: now})
        if obj == "contacts" and props.get("email"):
            props["hs_email_domain"] = props["email"].rsplit("@", 1)[-1]
        rec = {
            "id": rec_id,
            "properties": props,
            "createdAt": now,
            "updatedAt": now,
            "archived": False,
            "archivedAt": None,
            "visibleAt": 0.0,
        }
        self.records[obj][rec_id] = rec
        self._index_record(obj, rec)
        return rec

    def update(
        self, obj: str, rec: dict[str, Any], values: dict[str, str | None]
    ) -> dict[str, Any]:
        self._index_record(obj, rec, remove=True)
        now = iso_now()
        for name, value in values.items():
            if value is None:
                # empty string clears (docs/reference/hubspot.md#value-formats)
                rec["properties"].pop(name, None)
            else:
                rec["properties"][name] = value
        if obj == "contacts" and rec["properties"].get("email"):
            rec["properties"]["hs_email_domain"] = rec["properties"]["email"].rsplit("@", 1)[-1]
        rec["properties"][LAST_MODIFIED[obj]] = now
        rec["updatedAt"] = now
        self._index_record(obj, rec)
        return rec

    def archive(self, obj: str, rec: dict[str, Any]) -> None:
        self._index_record(obj, rec, remove=True)
        rec["archived"] = True
        rec["archivedAt"] = iso_now()

    def purge(self, obj: str, rec: dict[str, Any]) -> None:
        """Permanent delete (GDPR, docs/reference/hubspot.md#objects-and-properties): the record and its associations go."""
        self._index_record(obj, rec, remove=True)
        self.records[obj].pop(rec["id"], None)
        for key in self.associations.pop((obj, rec["id"]), {}):
            self.associations.get(key, {}).pop((obj, rec["id"]), None)

    def add_property(self, obj: str, prop: dict[str, Any]) -> None:
        self.properties[obj][prop["name"]] = prop
        self._rebuild_indexes()

    # --- associations -------------------------------------------------------------------
    def associate(self, frm: str, frm_id: str, type_id: int, to_id: str) -> None:
        to, inverse, _name, _label = ASSOCIATION_TYPES[(frm, type_id)]
        self.associations.setdefault((frm, frm_id), {}).setdefault((to, to_id), set()).add(type_id)
        self.associations.setdefault((to, to_id), {}).setdefault((frm, frm_id), set()).add(inverse)

    def associated(self, obj: str, rec_id: str, to: str) -> list[tuple[str, list[int]]]:
        links = self.associations.get((obj, rec_id), {})
        return sorted(
            ((tid, sorted(types)) for (t, tid), types in links.items() if t == to),
            key=lambda item: int(item[0]) if item[0].isdigit() else 0,
        )

    # --- owners -------------------------------------------------------------------------
    def add_owner(self, owner: dict[str, Any]) -> dict[str, Any]:
        """Add an owner; missing fields get defaults (PublicOwner, docs/reference/hubspot.md#owners)."""
        n = len(self.owners) + 1
        now = iso_now()
        full = {
            "id": str(owner.get("id") or 6166860 + n),
            "email": owner.get("email") or f"owner{n}@example.com",
            "firstName": owner.get("firstName", f"Owner{n}"),
            "lastName": owner.get("lastName", "Sandbox"),
            "userId": int(owner.get("userId") or 9000000 + n),
            "type": owner.get("type", "PERSON"),
            "teams": owner.get("teams", []),
            "archived": bool(owner.get("archived", False)),
            "createdAt": owner.get("createdAt", now),
            "updatedAt": owner.get("updatedAt", now),
        }
        full["userIdIncludingInactive"] = owner.get("userIdIncludingInactive", full["userId"])
        self.owners.append(full)
        return full

    def owner_ids(self) -> set[str]:
        return {o["id"] for o in self.owners if not o["archived"]}

    # --- rendering ----------------------------------------------------------------------
    def render(
        self,
        obj: str,
        rec: dict[str, Any],
        properties: list[str] | None = None,
        *,
        everything: bool = False,
    ) -> dict[str, Any]:
        """A ``SimplePublicObject`` (docs/reference/hubspot.md#objects-and-properties): all values strings, ids strings.

        With no requested properties, the default set plus createdate/hs_object_id/last
        modified; requested-but-unset properties come back as null.
        """
        stored = rec["properties"]
        if everything:
            props = dict(stored)
        else:
            names = list(properties or DEFAULT_PROPERTIES[obj])
            names += ["hs_object_id", "createdate", LAST_MODIFIED[obj]]
            if properties:
                props = {n: stored.get(n) for n in names}
            else:
                props = {n: stored[n] for n in names if n in stored}
        out: dict[str, Any] = {
            "id": rec["id"],
            "properties": dict(sorted(props.items())),
            "createdAt": rec["createdAt"],
            "updatedAt": rec["updatedAt"],
            "archived": rec["archived"],
        }
        if rec["archived"]:
            out["archivedAt"] = rec["archivedAt"]
        return out

    def counts(self) -> dict[str, int]:
        return {
            obj: sum(1 for r in recs.values() if not r["archived"])
            for obj, recs in self.records.items()
        }

    @staticmethod
    def now() -> float:
        return time.monotonic()
