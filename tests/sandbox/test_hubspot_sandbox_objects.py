"""Contract: single-record endpoints, list paging, properties, owners, associations
(docs/reference/hubspot.md#objects-and-properties, #paging, #associations, #owners,
#properties, #errors)."""

from __future__ import annotations

import re

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ERROR_KEYS = {"status", "message", "correlationId", "category"}


def _contact(client, email, **props):
    response = client.post(
        "/crm/v3/objects/contacts", json={"properties": {"email": email, **props}}
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_create_returns_a_simple_public_object_with_string_values(client):
    body = _contact(client, "Jane@Acme.com", firstname="Jane", numemployees="25-50")
    assert set(body) == {"id", "properties", "createdAt", "updatedAt", "archived"}
    assert isinstance(body["id"], str)
    assert body["id"].isdigit()
    assert body["archived"] is False
    assert ISO.match(body["createdAt"])
    assert body["properties"]["email"] == "jane@acme.com"  # match key stored lowercased
    assert all(isinstance(v, str) for v in body["properties"].values())
    assert body["properties"]["hs_object_id"] == body["id"]


def test_read_by_email_and_requested_properties(client):
    created = _contact(client, "a@acme.com", firstname="A")
    response = client.get(
        "/crm/v3/objects/contacts/A@acme.com",
        params={"idProperty": "email", "properties": "firstname,phone"},
    )
    assert response.status_code == 200
    props = response.json()["properties"]
    assert response.json()["id"] == created["id"]
    assert props["firstname"] == "A"
    assert props["phone"] is None
    assert {"hs_object_id", "createdate", "lastmodifieddate"} <= set(props)
    default = client.get(f"/crm/v3/objects/contacts/{created['id']}").json()["properties"]
    assert {"email", "firstname"} <= set(default)
    assert "phone" not in default


def test_duplicate_email_on_single_create_is_409_with_existing_id(client):
    first = _contact(client, "dup@acme.com")
    response = client.post(
        "/crm/v3/objects/contacts", json={"properties": {"email": "DUP@acme.com"}}
    )
    assert response.status_code == 409
    body = response.json()
    assert ERROR_KEYS <= set(body)
    assert body["category"] == "CONFLICT"
    assert body["message"] == f"Contact already exists. Existing ID: {first['id']}"


def test_newer_409_body_is_selectable(make_sandbox):
    _app, client = make_sandbox(conflict_category="OBJECT_ALREADY_EXISTS")
    _contact(client, "x@acme.com")
    body = client.post(
        "/crm/v3/objects/contacts", json={"properties": {"email": "x@acme.com"}}
    ).json()
    assert body["category"] == "OBJECT_ALREADY_EXISTS"
    assert body["error"] == "CONTACT_EXISTS"
    assert body["errors"][0]["in"] == "email"
    assert "Existing ID:" in body["message"]


def test_patch_rejects_read_only_and_unknown_and_clears_with_empty_string(client):
    created = _contact(client, "p@acme.com", firstname="P", jobtitle="CTO")
    bad = client.patch(
        f"/crm/v3/objects/contacts/{created['id']}",
        json={"properties": {"createdate": "2020-01-01", "nope": "1"}},
    )
    assert bad.status_code == 400
    body = bad.json()
    assert body["category"] == "VALIDATION_ERROR"
    assert body["message"].startswith("Property values were not valid: ")
    assert set(body["context"]["propertyName"]) == {"createdate", "nope"}
    ok = client.patch(
        "/crm/v3/objects/contacts/p@acme.com",
        params={"idProperty": "email"},
        json={"properties": {"jobtitle": "", "lifecyclestage": "lead"}},
    )
    assert ok.status_code == 200
    assert "jobtitle" not in ok.json()["properties"]
    assert ok.json()["properties"]["lifecyclestage"] == "lead"


def test_enumeration_values_are_case_sensitive(client):
    response = client.post(
        "/crm/v3/objects/contacts",
        json={"properties": {"email": "e@acme.com", "lifecyclestage": "Lead"}},
    )
    assert response.status_code == 400
    assert "INVALID_OPTION" in response.json()["message"]
    assert "Lead" in response.json()["message"]


def test_missing_object_is_404_object_not_found(client):
    response = client.get("/crm/v3/objects/contacts/999999")
    assert response.status_code == 404
    assert response.json()["category"] == "OBJECT_NOT_FOUND"


def test_list_paging_with_after_and_limit_cap(app, client):
    ids = app.seed_objects("contacts", [{"email": f"l{i}@acme.com"} for i in range(25)])
    seen, after, pages = [], None, 0
    while True:
        params = {"limit": 10, **({"after": after} if after else {})}
        body = client.get("/crm/v3/objects/contacts", params=params).json()
        seen += [r["id"] for r in body["results"]]
        pages += 1
        if "paging" not in body:
            break
        after = body["paging"]["next"]["after"]
        assert body["paging"]["next"]["link"] == f"?after={after}"
    assert seen == ids
    assert pages == 3
    assert client.get("/crm/v3/objects/contacts", params={"limit": 101}).status_code == 400


def test_archive_hides_and_archived_true_finds(app, client):
    [rec_id] = app.seed_objects("contacts", [{"email": "gone@acme.com"}])
    assert client.delete(f"/crm/v3/objects/contacts/{rec_id}").status_code == 204
    assert client.get(f"/crm/v3/objects/contacts/{rec_id}").status_code == 404
    body = client.get(f"/crm/v3/objects/contacts/{rec_id}", params={"archived": "true"}).json()
    assert body["archived"] is True
    assert ISO.match(body["archivedAt"])


def test_gdpr_delete_purges_and_blocklists_unknown_emails(app, client):
    [rec_id] = app.seed_objects("contacts", [{"email": "erase@acme.com"}])
    response = client.post(
        "/crm/v3/objects/contacts/gdpr-delete",
        json={"objectId": "erase@acme.com", "idProperty": "email"},
    )
    assert response.status_code == 204
    assert app.objects("contacts", include_archived=True) == []
    client.post(
        "/crm/v3/objects/contacts/gdpr-delete",
        json={"objectId": "never@acme.com", "idProperty": "email"},
    )
    again = client.post(
        "/crm/v3/objects/contacts", json={"properties": {"email": "never@acme.com"}}
    )
    assert again.status_code == 400
    assert "EMAIL_BLOCKLISTED" in again.json()["message"]


def test_properties_catalogue(client):
    body = client.get("/crm/v3/properties/contacts").json()
    assert set(body) == {"results"}  # no paging (docs/reference/hubspot.md#properties)
    by_name = {p["name"]: p for p in body["results"]}
    for name in (
        "email",
        "firstname",
        "lastname",
        "company",
        "jobtitle",
        "phone",
        "mobilephone",
        "country",
        "state",
        "city",
        "website",
        "hs_linkedin_url",
        "lifecyclestage",
        "hubspot_owner_id",
        "hs_lead_status",
        "numemployees",
        "industry",
        "annualrevenue",
    ):
        assert name in by_name, name
    stage = by_name["lifecyclestage"]
    assert stage["type"] == "enumeration"
    assert [o["value"] for o in stage["options"]][:3] == [
        "subscriber",
        "lead",
        "marketingqualifiedlead",
    ]
    for name in ("hs_object_id", "createdate", "lastmodifieddate", "hs_calculated_phone_number"):
        assert by_name[name]["modificationMetadata"]["readOnlyValue"] is True
    assert by_name["email"]["modificationMetadata"]["readOnlyValue"] is False
    assert by_name["hubspot_owner_id"]["referencedObjectType"] == "OWNER"
    companies = {p["name"] for p in client.get("/crm/v3/properties/companies").json()["results"]}
    assert {"name", "domain", "industry", "numberofemployees", "annualrevenue"} <= companies
    deals = client.get("/crm/v3/properties/0-3/dealstage").json()
    assert deals["fieldType"] == "radio"
    assert deals["options"]
    assert client.get("/crm/v3/properties/contacts/nope").status_code == 404


def test_owners_paging_archived_and_owner_id_validation(make_sandbox):
    app, client = make_sandbox(
        owners=[
            {"id": "501", "email": "o1@acme.com"},
            {"id": "502", "email": "o2@acme.com"},
            {"id": "503", "email": "o3@acme.com"},
            {"id": "504", "email": "old@acme.com", "archived": True},
        ]
    )
    first = client.get("/crm/v3/owners", params={"limit": 2}).json()
    assert [o["id"] for o in first["results"]] == ["501", "502"]
    assert {"id", "email", "firstName", "lastName", "userId", "archived", "type", "teams"} <= set(
        first["results"][0]
    )
    rest = client.get(
        "/crm/v3/owners", params={"limit": 2, "after": first["paging"]["next"]["after"]}
    ).json()
    assert [o["id"] for o in rest["results"]] == ["503"]
    assert "paging" not in rest
    archived = client.get("/crm/v3/owners", params={"archived": "true"}).json()["results"]
    assert [o["id"] for o in archived] == ["504"]
    assert (
        client.get("/crm/v3/owners", params={"email": "o2@acme.com"}).json()["results"][0]["id"]
        == "502"
    )
    ok = client.post(
        "/crm/v3/objects/contacts",
        json={"properties": {"email": "r@acme.com", "hubspot_owner_id": "502"}},
    )
    assert ok.status_code == 201
    bad = client.post(
        "/crm/v3/objects/contacts",
        json={"properties": {"email": "s@acme.com", "hubspot_owner_id": "504"}},
    )
    assert bad.status_code == 400
    assert "INVALID_OWNER_ID" in bad.json()["message"]


def test_deal_with_inline_associations_reads_back_both_ways(app, client):
    [contact] = app.seed_objects("contacts", [{"email": "buyer@acme.com"}])
    [company] = app.seed_objects("companies", [{"name": "Acme", "domain": "acme.com"}])
    response = client.post(
        "/crm/v3/objects/deals",
        json={
            "properties": {
                "dealname": "Acme – Q3",
                "pipeline": "default",
                "dealstage": "appointmentscheduled",
                "amount": "1200",
            },
            "associations": [
                {
                    "to": {"id": contact},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
                },
                {
                    "to": {"id": company},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 341}],
                },
            ],
        },
    )
    assert response.status_code == 201, response.text
    deal = response.json()["id"]
    read = client.get(
        f"/crm/v3/objects/deals/{deal}", params={"associations": "contacts,companies"}
    ).json()
    assert read["associations"]["contacts"]["results"] == [
        {"id": contact, "type": "deal_to_contact"}
    ]
    assert read["associations"]["companies"]["results"][0]["id"] == company
    v4 = client.get(f"/crm/v4/objects/contacts/{contact}/associations/deals").json()
    assert v4["results"] == [
        {
            "toObjectId": int(deal),
            "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 4, "label": None}],
        }
    ]
    labels = client.get("/crm/v4/associations/contacts/companies/labels").json()["results"]
    assert {lab["typeId"] for lab in labels} == {1, 279}
    bad = client.post(
        "/crm/v3/objects/deals",
        json={
            "properties": {"dealname": "x"},
            "associations": [
                {
                    "to": {"id": contact},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}],
                }
            ],
        },
    )
    assert bad.status_code == 400


def test_v4_default_association(app, client):
    [contact] = app.seed_objects("contacts", [{"email": "c@acme.com"}])
    [company] = app.seed_objects("companies", [{"name": "Acme"}])
    response = client.put(
        f"/crm/v4/objects/contacts/{contact}/associations/default/companies/{company}"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "COMPLETE"
    read = client.get(f"/crm/v3/objects/companies/{company}", params={"associations": "contacts"})
    assert read.json()["associations"]["contacts"]["results"][0]["id"] == contact
