"""CSV cells that a spreadsheet will not execute (formula / CSV injection).

A cell starting with = + - @ (or a tab, carriage return or NUL, which some spreadsheets skip
before reading a formula) is run as a formula by Excel, LibreOffice and Google Sheets. Data
from Clay, webhooks or CSV uploads is attacker-controlled, so every exported cell goes through
`csv_safe_cell`, which prefixes such cells with a single quote (OWASP "CSV Injection";
ASVS 5.0 1.2.10). The csv module then handles quoting (RFC 4180).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")


def csv_safe_cell(value: Any) -> Any:
    """The value as a CSV cell: numbers as they are, text with formula triggers defused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return value  # a number is not a formula, and "-5" must stay a number
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    return "'" + text if text.startswith(_TRIGGERS) else text


def csv_safe_row(values: Iterable[Any]) -> list[Any]:
    return [csv_safe_cell(v) for v in values]
