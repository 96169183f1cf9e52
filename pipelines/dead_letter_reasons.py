"""What a dead letter is about, in words a RevOps admin acts on. Pure: no database.

- One **category** vocabulary, whoever failed the record: Switchyard's own checks say
  ``validation``, HubSpot says ``VALIDATION_ERROR``/``INVALID_EMAIL``/…, a transport error says
  ``missing_scope``; all become one of CATEGORIES.
- HubSpot's error bodies become **sentences**: "Property values were not valid: [{…}]" (JSON
  with ``\\u00eb`` escapes) turns into "email: Email address zoë@x.io is invalid".
- A **reason** groups letters that need the same fix: the first error with the record's own
  values taken out ("Email → email: not a valid email address").
- An **identity** says which person a letter is about (the match key, else the source value
  of the match-key column, else a key of the source row), so a newer failure of the same
  person supersedes an older letter and a later success resolves it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pipelines.dead_letter_kinds import LETTER_KINDS

CATEGORIES: dict[str, str] = {
    "validation": "Invalid in the source",
    "rejected": "Rejected by HubSpot",
    "missing_scope": "HubSpot app lacks a permission",
    "auth_failed": "HubSpot refused the credentials",
    "retries_exhausted": "HubSpot unreachable after retries",
    "no_result": "HubSpot did not answer for this record",
    "undeliverable": "Email domain does not accept mail",
}
_CATEGORY_ALIASES = {
    "missing_scopes": "missing_scope",
    "unauthorized": "auth_failed",
    "invalid_authentication": "auth_failed",
    "expired_authentication": "auth_failed",
}
_TRANSIENT = {"unreachable", "timed_out", "server_error", "rate_limited"}

FIXES: dict[str, str] = {
    "validation": "Correct the value in the letter's form and reprocess it, or ignore the "
    "letter if the row should not be sent (a test contact, a placeholder).",
    "rejected": "Correct the value HubSpot names and reprocess, or ignore the letter. If the "
    "property's options changed in HubSpot, fix the field mapping, then reprocess the group.",
    "missing_scope": "Reconnect HubSpot granting the scope named in the error (Connections → "
    "the HubSpot connection), then reprocess every letter of this group.",
    "auth_failed": "Renew the HubSpot connection's token (Connections), then reprocess the group.",
    "retries_exhausted": "HubSpot was unreachable or failing; once it answers again, "
    "reprocess every letter of this group.",
    "no_result": "HubSpot's reply skipped these records; reprocess them.",
    "undeliverable": "Check the address with the contact's owner, correct it and reprocess, "
    "or ignore the letter.",
}
_EMAIL_FIX = "Correct the email in the letter's form and reprocess, or ignore the letter."


def category_normalize(category: str, *, stage: str = "") -> str:
    """Any category a dead letter was filed under → one of CATEGORIES."""
    key = (category or "").strip().lower()
    key = _CATEGORY_ALIASES.get(key, key)
    if key in CATEGORIES:
        return key
    if key in _TRANSIENT:
        return "retries_exhausted"
    if stage == "transform":
        return "validation"
    return "rejected"


def category_label(category: str) -> str:
    if category in CATEGORIES:
        return CATEGORIES[category]
    for kind in LETTER_KINDS.values():  # another app's letters (an event delivery's)
        if category in kind.categories:
            return kind.categories[category]
    return category.replace("_", " ").capitalize()


_JSON_LIST = re.compile(r"\[\s*\{.*\}\s*\]", re.DOTALL)
# What the HubSpot client raises: "HubSpot POST -> 403 MISSING_SCOPES: needs crm.objects…"
_PROVIDER = re.compile(r"^HubSpot \w+ -> (\d{3}) ([A-Z_]+)?:?\s*(.*)$", re.DOTALL)


def _provider_sentence(text: str) -> str | None:
    found = _PROVIDER.match(text)
    if not found:
        return None
    status, code, rest = found.group(1), found.group(2) or "", found.group(3).strip()
    if code == "MISSING_SCOPES":
        scopes = rest.removeprefix("needs ").strip()
        return f"The HubSpot app lacks the permission (scope) {scopes}."
    detail = f": {rest}" if rest else "."
    return f"HubSpot answered {status}{f' ({code})' if code else ''}{detail}"


def error_sentences(messages: Sequence[Any]) -> list[str]:
    """Each message as a sentence: HubSpot's embedded JSON lists become one line per
    property ("email: Email address zoë@x.io is invalid"), escapes decoded."""
    out: list[str] = []
    for message in messages:
        text = str(message)
        found = _JSON_LIST.search(text)
        entries = None
        if found:
            try:
                entries = json.loads(found.group(0))
            except ValueError:
                entries = None
        if isinstance(entries, list) and all(isinstance(e, dict) for e in entries):
            for entry in entries:
                detail = entry.get("message") or entry.get("error") or "invalid"
                name = entry.get("name")
                out.append(f"{name}: {detail}" if name else str(detail))
            continue
        out.append(_provider_sentence(text) or text)
    return out


_VALUES = re.compile(
    r"'[^']*'|\"[^\"]*\"|\S+@\S+|https?://\S+|\b\d[\d\s+().-]*\d\b|\b\d\b|\[[^\]]*\]"
)


def reason_of(*, category: str, errors: Sequence[str]) -> str:
    """The first error without the record's own values: letters with the same reason need the
    same fix. "Phone → phone: '12' is too short" → "Phone → phone: … is too short"."""
    if not errors:
        return category_label(category)
    text = _VALUES.sub("…", str(errors[0]))
    text = re.sub(r"(…[\s,]*)+", "… ", text).strip()
    text = re.sub(r"\s+for\s+\S*…\S*", "", text).strip()  # "… number for +44: …" → "… number"
    head, _, detail = text.partition(": ")
    # "not a valid email address: the part after the @-sign …" → the first clause is enough
    detail = detail.split(":")[0].strip() if detail else ""
    return (f"{head}: {detail}" if detail else head)[:200].strip()


def fix_for(*, category: str, reason: str) -> str:
    for kind in LETTER_KINDS.values():
        if category in kind.fixes:
            return kind.fixes[category]
    if category in ("validation", "rejected") and "email" in reason.lower():
        return _EMAIL_FIX
    return FIXES.get(category, FIXES["rejected"])


def source_columns(*, raw: Mapping[str, Any], rules: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Rule source → this row's header, matched as the import matched them ("Email" is the
    file's "Work Email"): errors name the rule's source column, the row holds the header."""
    from pipelines.mapping import columns_match

    return columns_match(list(raw), rules).matched


def _raw_value(raw: Mapping[str, Any], source: str, columns: Mapping[str, str] | None) -> Any:
    return raw.get((columns or {}).get(source, source))


def identity_of(
    *,
    match_key: str,
    match_on: str,
    errors: Sequence[Mapping[str, Any]],
    raw: Mapping[str, Any],
    columns: Mapping[str, str] | None = None,
) -> str:
    """Who the letter is about: the match key; else the raw value of the column the match key
    comes from (a rejected "alan(at)initech.de" is still Alan); else a key of the source row."""
    if match_key:
        return match_key[:320]
    for error in errors:
        if error.get("target") == match_on:
            value = _raw_value(raw, str(error.get("source")), columns)
            if isinstance(value, str) and value.strip():
                return value.strip().lower()[:320]
    text = json.dumps(raw, sort_keys=True, default=str, ensure_ascii=False)
    return "row:" + hashlib.sha256(text.encode()).hexdigest()[:32]


def failed_values(
    *,
    errors: Sequence[Mapping[str, Any]],
    raw: Mapping[str, Any],
    columns: Mapping[str, str] | None = None,
) -> dict[str, dict[str, str]]:
    """Per property (target): the value that failed as it was in the source, and why. A value
    that fails validation is not in the payload, so the edit box alone would show it empty."""
    out: dict[str, dict[str, str]] = {}
    for error in errors:
        target = str(error.get("target") or "")
        value = _raw_value(raw, str(error.get("source")), columns)
        if target and value not in (None, "") and target not in out:
            out[target] = {"value": str(value), "message": str(error.get("message", ""))}
    return out
