"""What is wrong with one record of a HubSpot portal, as HubSpot's Data Quality Command Center
names it (no data, formatting issues, duplicates). Pure: no database, no HTTP."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quality.metrics import is_missing
from quality.rules import format_problem

CURSOR_PROPERTY = {"contacts": "lastmodifieddate", "companies": "hs_lastmodifieddate"}
SNAPSHOT_PROPERTIES = {
    "contacts": [
        "email",
        "firstname",
        "lastname",
        "phone",
        "company",
        "jobtitle",
        "lifecyclestage",
        "associatedcompanyid",
        "lastmodifieddate",
    ],
    "companies": [
        "domain",
        "name",
        "industry",
        "country",
        "phone",
        "numberofemployees",
        "hs_lastmodifieddate",
    ],
}
# Properties whose fill rate is reported (the cursor is always set, so it says nothing).
MEASURED = {
    kind: [p for p in props if p != CURSOR_PROPERTY[kind]]
    for kind, props in SNAPSHOT_PROPERTIES.items()
}
FORMATS = {"email": "email", "website": "url"}

ISSUE_NO_COMPANY = "contact without a company"
ISSUE_NO_EMAIL = "contact without an email"
ISSUE_NO_DOMAIN = "company without a domain"
ISSUE_BAD_EMAIL = "badly formatted email"


def record_issues(object_type: str, properties: Mapping[str, Any]) -> list[str]:
    """The issues of one record on its own (duplicates need the whole set: see the caller)."""
    issues = []
    if object_type == "contacts":
        if is_missing(properties.get("associatedcompanyid")) and is_missing(
            properties.get("company")
        ):
            issues.append(ISSUE_NO_COMPANY)
        email = properties.get("email")
        if is_missing(email):
            issues.append(ISSUE_NO_EMAIL)
        elif format_problem("email", email):
            issues.append(ISSUE_BAD_EMAIL)
    elif object_type == "companies" and is_missing(properties.get("domain")):
        issues.append(ISSUE_NO_DOMAIN)
    return issues


def duplicate_issue(object_type: str) -> str:
    return "contact sharing an email" if object_type == "contacts" else "company sharing a domain"
