"""Default property definitions per object type, and validation of written values.

Shapes follow docs/reference/hubspot.md#properties (Property: name, label, type, fieldType, options[],
hasUniqueValue, modificationMetadata.readOnlyValue, …); value rules follow docs/reference/hubspot.md#value-formats.
"""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import PropertyProblem

OBJECT_TYPE_IDS = {"0-1": "contacts", "0-2": "companies", "0-3": "deals"}
OBJECT_TYPES = ("contacts", "companies", "deals")
# Singular names used in messages ("Could not get some CONTACT objects…").
SINGULAR = {"contacts": "CONTACT", "companies": "COMPANY", "deals": "DEAL"}
TYPE_ID = {v: k for k, v in OBJECT_TYPE_IDS.items()}

# Contacts keep `lastmodifieddate`; companies and deals use `hs_lastmodifieddate` (HubSpot's
# real naming). The set returned by default is docs/reference/hubspot.md#objects-and-properties.
LAST_MODIFIED = {
    "contacts": "lastmodifieddate",
    "companies": "hs_lastmodifieddate",
    "deals": "hs_lastmodifieddate",
}
DEFAULT_PROPERTIES = {
    "contacts": ["firstname", "lastname", "email"],
    "companies": ["name", "domain"],
    "deals": ["dealname", "amount", "closedate", "pipeline", "dealstage"],
}

LIFECYCLE_STAGES = [
    ("Subscriber", "subscriber"),
    ("Lead", "lead"),
    ("Marketing Qualified Lead", "marketingqualifiedlead"),
    ("Sales Qualified Lead", "salesqualifiedlead"),
    ("Opportunity", "opportunity"),
    ("Customer", "customer"),
    ("Evangelist", "evangelist"),
    ("Other", "other"),
]  # docs/reference/hubspot.md#value-formats
LEAD_STATUSES = [
    ("New", "NEW"),
    ("Open", "OPEN"),
    ("In Progress", "IN_PROGRESS"),
    ("Open Deal", "OPEN_DEAL"),
    ("Unqualified", "UNQUALIFIED"),
    ("Attempted to Contact", "ATTEMPTED_TO_CONTACT"),
    ("Connected", "CONNECTED"),
    ("Bad Timing", "BAD_TIMING"),
]
EMPLOYEE_BANDS = [
    (v, v) for v in ("1-5", "5-25", "25-50", "50-100", "100-500", "500-1000", "1000+")
]
INDUSTRIES = [
    (v.replace("_", " ").title(), v)
    for v in (
        "ACCOUNTING",
        "BANKING",
        "BIOTECHNOLOGY",
        "COMPUTER_HARDWARE",
        "COMPUTER_SOFTWARE",
        "CONSTRUCTION",
        "CONSUMER_GOODS",
        "EDUCATION_MANAGEMENT",
        "FINANCIAL_SERVICES",
        "HOSPITAL_HEALTH_CARE",
        "INFORMATION_TECHNOLOGY_AND_SERVICES",
        "INSURANCE",
        "INTERNET",
        "LOGISTICS_AND_SUPPLY_CHAIN",
        "MANAGEMENT_CONSULTING",
        "MARKETING_AND_ADVERTISING",
        "MEDICAL_DEVICES",
        "NONPROFIT_ORGANIZATION_MANAGEMENT",
        "REAL_ESTATE",
        "RETAIL",
        "STAFFING_AND_RECRUITING",
        "TELECOMMUNICATIONS",
        "UTILITIES",
    )
]
DEAL_STAGES = [
    ("Appointment Scheduled", "appointmentscheduled"),
    ("Qualified To Buy", "qualifiedtobuy"),
    ("Presentation Scheduled", "presentationscheduled"),
    ("Decision Maker Bought-In", "decisionmakerboughtin"),
    ("Contract Sent", "contractsent"),
    ("Closed Won", "closedwon"),
    ("Closed Lost", "closedlost"),
]

_EPOCH = "1970-01-01T00:00:00.000Z"


def _prop(
    name: str,
    label: str,
    type_: str = "string",
    field_type: str = "text",
    *,
    group: str = "contactinformation",
    options: list[tuple[str, str]] | None = None,
    read_only: bool = False,
    unique: bool = False,
    owner: bool = False,
) -> dict[str, Any]:
    """One ``Property`` (docs/reference/hubspot.md#properties)."""
    prop: dict[str, Any] = {
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field_type,
        "groupName": group,
        "description": "",
        "displayOrder": -1,
        "options": [
            {"label": lab, "value": val, "displayOrder": i, "hidden": False, "description": ""}
            for i, (lab, val) in enumerate(options or [])
        ],
        "hasUniqueValue": unique,
        "hidden": False,
        "formField": not read_only,
        "calculated": False,
        "externalOptions": owner,
        "hubspotDefined": True,
        "archived": False,
        "createdAt": _EPOCH,
        "updatedAt": _EPOCH,
        "modificationMetadata": {
            "archivable": False,
            "readOnlyDefinition": True,
            "readOnlyValue": read_only,
            **({"readOnlyOptions": True} if options or owner else {}),
        },
    }
    if owner:
        prop["referencedObjectType"] = "OWNER"
    return prop


def _system(obj: str) -> list[dict[str, Any]]:
    group = {
        "contacts": "contactinformation",
        "companies": "companyinformation",
        "deals": "dealinformation",
    }[obj]
    return [
        _prop("hs_object_id", "Record ID", "number", "number", group=group, read_only=True),
        _prop("createdate", "Create Date", "datetime", "date", group=group, read_only=True),
        _prop(
            LAST_MODIFIED[obj],
            "Last Modified Date",
            "datetime",
            "date",
            group=group,
            read_only=True,
        ),
    ]


def _owner_prop(group: str) -> dict[str, Any]:
    return _prop("hubspot_owner_id", "Owner", "enumeration", "select", group=group, owner=True)


def default_properties() -> dict[str, dict[str, dict[str, Any]]]:
    """A fresh copy of the property catalogue, keyed by object type then property name."""
    contacts = [
        *_system("contacts"),
        _prop("email", "Email"),
        _prop("firstname", "First Name"),
        _prop("lastname", "Last Name"),
        _prop("company", "Company Name"),
        _prop("jobtitle", "Job Title"),
        _prop("phone", "Phone Number", "string", "phonenumber"),
        _prop("mobilephone", "Mobile Phone Number", "string", "phonenumber"),
        _prop("country", "Country/Region"),
        _prop("state", "State/Region"),
        _prop("city", "City"),
        _prop("address", "Street Address"),
        _prop("zip", "Postal Code"),
        _prop("website", "Website URL"),
        _prop("hs_linkedin_url", "LinkedIn URL"),
        _prop("industry", "Industry"),
        _prop("annualrevenue", "Annual Revenue"),
        _prop(
            "lifecyclestage", "Lifecycle Stage", "enumeration", "radio", options=LIFECYCLE_STAGES
        ),
        _prop("hs_lead_status", "Lead Status", "enumeration", "radio", options=LEAD_STATUSES),
        _prop(
            "numemployees", "Number of Employees", "enumeration", "select", options=EMPLOYEE_BANDS
        ),
        _owner_prop("contactinformation"),
        # HubSpot-defined: the id of the contact's primary company (routing reads it to fetch the
        # company in one batch read instead of one associations call per contact).
        _prop("associatedcompanyid", "Primary Associated Company ID", "number", "number"),
        # Derived by HubSpot; writing them is an error (docs/reference/hubspot.md#properties, docs/reference/hubspot.md#value-formats).
        _prop("hs_calculated_phone_number", "Calculated Phone Number", read_only=True),
        _prop(
            "hs_additional_emails",
            "Additional email addresses",
            "enumeration",
            "checkbox",
            read_only=True,
        ),
        _prop("hs_email_domain", "Email Domain", read_only=True),
    ]
    companies = [
        *_system("companies"),
        _prop("name", "Company name", group="companyinformation"),
        # Not unique in HubSpot: upsert by domain is refused unless made unique (docs/reference/hubspot.md#batch-endpoints).
        _prop("domain", "Company Domain Name", group="companyinformation"),
        _prop("website", "Website URL", group="companyinformation"),
        _prop(
            "industry",
            "Industry",
            "enumeration",
            "select",
            group="companyinformation",
            options=INDUSTRIES,
        ),
        _prop(
            "numberofemployees",
            "Number of Employees",
            "number",
            "number",
            group="companyinformation",
        ),
        _prop("annualrevenue", "Annual Revenue", "number", "number", group="companyinformation"),
        _prop("country", "Country/Region", group="companyinformation"),
        _prop("state", "State/Region", group="companyinformation"),
        _prop("city", "City", group="companyinformation"),
        _prop("phone", "Phone Number", "string", "phonenumber", group="companyinformation"),
        _prop("linkedin_company_page", "LinkedIn Company Page", group="companyinformation"),
        _prop("description", "Description", "string", "textarea", group="companyinformation"),
        _prop(
            "lifecyclestage",
            "Lifecycle Stage",
            "enumeration",
            "radio",
            group="companyinformation",
            options=LIFECYCLE_STAGES,
        ),
        _owner_prop("companyinformation"),
    ]
    deals = [
        *_system("deals"),
        _prop("dealname", "Deal Name", group="dealinformation"),
        _prop("amount", "Amount", "number", "number", group="dealinformation"),
        _prop(
            "pipeline",
            "Pipeline",
            "enumeration",
            "select",
            group="dealinformation",
            options=[("Sales Pipeline", "default")],
        ),
        _prop(
            "dealstage",
            "Deal Stage",
            "enumeration",
            "radio",
            group="dealinformation",
            options=DEAL_STAGES,
        ),
        _prop("closedate", "Close Date", "datetime", "date", group="dealinformation"),
        _prop(
            "dealtype",
            "Deal Type",
            "enumeration",
            "radio",
            group="dealinformation",
            options=[("New Business", "newbusiness"), ("Existing Business", "existingbusiness")],
        ),
        _prop("description", "Deal Description", "string", "textarea", group="dealinformation"),
        _owner_prop("dealinformation"),
    ]
    return {
        name: {p["name"]: p for p in props}
        for name, props in (("contacts", contacts), ("companies", companies), ("deals", deals))
    }


def custom_property(body: dict[str, Any]) -> dict[str, Any]:
    """A property created through ``POST /crm/v3/properties/{type}`` (docs/reference/hubspot.md#properties)."""
    prop = _prop(
        str(body["name"]),
        str(body.get("label") or body["name"]),
        str(body.get("type") or "string"),
        str(body.get("fieldType") or "text"),
        group=str(body.get("groupName") or "contactinformation"),
        options=[(o.get("label", o["value"]), o["value"]) for o in body.get("options") or []],
        unique=bool(body.get("hasUniqueValue")),
    )
    prop["hubspotDefined"] = False
    prop["modificationMetadata"].update(archivable=True, readOnlyDefinition=False)
    now = iso_now()
    prop["createdAt"] = prop["updatedAt"] = now
    return copy.deepcopy(prop)


# --- values -------------------------------------------------------------------------------


def iso_now() -> str:
    return iso(datetime.now(UTC))


def iso(moment: datetime) -> str:
    """Responses use ISO 8601 with milliseconds and Z (docs/reference/hubspot.md#value-formats)."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def to_epoch_ms(value: str) -> int | None:
    """Parse a date/datetime filter or stored value: epoch ms, ISO date or ISO datetime."""
    value = value.strip()
    if re.fullmatch(r"-?\d+", value):
        return int(value)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            moment = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
        else:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(moment.timestamp() * 1000)


# Email, as HubSpot validates it (docs/connections.md, "Email addresses"): RFC 2822 syntax,
# so an ASCII local part, never quoted; the domain may be internationalized (its labels are
# IDNA-encoded here) and must end in one of IANA's top-level domains (tlds.txt).
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z0-9-]{2,63})"
EMAIL_RE = re.compile(rf"^{_LOCAL}@{_DOMAIN}$")
_TLDS_FILE = Path(__file__).with_name("tlds.txt")
TLDS = frozenset(
    line.strip().lower()
    for line in _TLDS_FILE.read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
)


def _ascii_domain(domain: str) -> str | None:
    """The domain with Unicode labels IDNA-encoded, or None when a label cannot be."""
    try:
        return ".".join(
            label if label.isascii() else "xn--" + label.lower().encode("punycode").decode()
            for label in domain.split(".")
        )
    except UnicodeError:
        return None


def _tld_known(ascii_tld: str) -> bool:
    if ascii_tld.startswith("xn--"):
        try:
            return ascii_tld[4:].encode().decode("punycode") in TLDS
        except UnicodeError:
            return False
    return ascii_tld in TLDS


def email_is_valid(value: str) -> bool:
    local, at, domain = value.rpartition("@")
    ascii_domain = _ascii_domain(domain) if at else None
    if ascii_domain is None or len(value) > 254:
        return False
    match = EMAIL_RE.match(f"{local}@{ascii_domain}")
    return bool(match) and _tld_known(match.group(1).lower())


def coerce(value: Any) -> str | None:
    """Requests may send JSON numbers or booleans; HubSpot stores strings (docs/reference/hubspot.md#objects-and-properties)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return str(value)


def check_value(
    prop: dict[str, Any], raw: str, owner_ids: set[str]
) -> tuple[str, PropertyProblem | None]:
    """Validate one non-empty value; return (value to store, problem or None)."""
    name, type_ = prop["name"], prop["type"]
    if name == "email" or (
        name.endswith("email") and type_ == "string" and name != "hs_email_domain"
    ):
        if not email_is_valid(raw):
            return raw, PropertyProblem(name, "INVALID_EMAIL", f"Email address {raw} is invalid")
        return raw.strip().lower(), None
    if prop.get("referencedObjectType") == "OWNER":
        if raw not in owner_ids:
            return raw, PropertyProblem(name, "INVALID_OWNER_ID", f"{raw} is not a valid owner id")
        return raw, None
    if type_ == "enumeration":
        allowed = [o["value"] for o in prop["options"]]
        parts = raw.split(";") if prop["fieldType"] == "checkbox" else [raw]
        # case-sensitive (docs/reference/hubspot.md#properties)
        bad = [p for p in parts if p not in allowed]
        if bad:
            return raw, PropertyProblem(
                name,
                "INVALID_OPTION",
                f"{bad[0]} was not one of the allowed options: [{', '.join(allowed)}]",
            )
        return raw, None
    if type_ == "number":
        try:
            float(raw)
        except ValueError:
            return raw, PropertyProblem(name, "INVALID_DECIMAL", f"{raw} is not a valid decimal")
        return raw, None
    if type_ == "bool":
        # `True` is not valid (docs/reference/hubspot.md#properties)
        if raw not in ("true", "false"):
            return raw, PropertyProblem(name, "INVALID_BOOLEAN", f"{raw} is not a valid boolean")
        return raw, None
    if type_ == "date":
        ms = to_epoch_ms(raw)
        # epoch ms must be midnight UTC (docs/reference/hubspot.md#value-formats)
        if ms is None or ms % 86_400_000 != 0:
            return raw, PropertyProblem(
                name,
                "INVALID_DATE",
                f"{raw} is not a valid date; use YYYY-MM-DD or epoch milliseconds at midnight UTC",
            )
        return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d"), None
    if type_ == "datetime":
        ms = to_epoch_ms(raw)
        if ms is None:
            return raw, PropertyProblem(name, "INVALID_DATETIME", f"{raw} is not a valid datetime")
        return iso(datetime.fromtimestamp(ms / 1000, UTC)), None
    if len(raw) > 65536:
        return raw, PropertyProblem(name, "INVALID_STRING", "Value exceeds 65536 characters")
    return raw, None


def validate_properties(
    catalogue: dict[str, dict[str, Any]], values: Any, owner_ids: set[str]
) -> tuple[dict[str, str | None], list[PropertyProblem]]:
    """Check a ``properties`` object of a write. Empty string clears a value (docs/reference/hubspot.md#value-formats).

    Returns the cleaned values (None = clear) and every problem found, not just the first.
    """
    cleaned: dict[str, str | None] = {}
    problems: list[PropertyProblem] = []
    if not isinstance(values, dict):
        return cleaned, [
            PropertyProblem("properties", "INVALID_INPUT", "properties must be an object")
        ]
    for name, value in values.items():
        prop = catalogue.get(name)
        if prop is None:
            problems.append(
                PropertyProblem(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
            )
            continue
        if prop["modificationMetadata"]["readOnlyValue"]:
            problems.append(
                PropertyProblem(
                    name,
                    "READ_ONLY_VALUE",
                    f'"{name}" is a read only property; its value cannot be set.',
                )
            )
            continue
        text = coerce(value)
        if text is None or text == "":
            cleaned[name] = None
            continue
        stored, problem = check_value(prop, text, owner_ids)
        if problem:
            problems.append(problem)
        else:
            cleaned[name] = stored
    return cleaned, problems
