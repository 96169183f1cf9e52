"""Scoring a lead: the internal scoring API, or built-in rules (points per condition).

The API is called through the generic HTTP JSON client (integrations/http), which already
retries 429/5xx/timeouts with backoff; whatever still fails reaches the caller as a
ProviderError, and the caller falls back (services.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from integrations.http.client import extract
from pipelines.routing.rules import Condition, Lead, condition_evaluate


@dataclass(frozen=True)
class ScoringRuleSpec:
    name: str
    points: int
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class Score:
    value: int | None
    source: str  # api | rules | unavailable
    parts: list[dict[str, Any]] = field(default_factory=list)
    territory: str | None = None  # the API may decide the territory too
    error: str = ""


def score_by_rules(*, rules: Sequence[ScoringRuleSpec], lead: Lead) -> Score:
    """Sum the points of every rule whose conditions all hold; each part says why."""
    total, parts = 0, []
    for rule in rules:
        outcomes = [condition_evaluate(c, lead) for c in rule.conditions]
        matched = all(o.matched for o in outcomes)
        if matched:
            total += rule.points
        parts.append(
            {
                "rule": rule.name,
                "points": rule.points if matched else 0,
                "matched": matched,
                "why": "; ".join(o.reason for o in outcomes) or "always",
            }
        )
    return Score(total, "rules", parts)


def score_by_api(
    *, client: Any, path: str, score_field: str, territory_field: str, lead: Lead
) -> Score:
    """POST the lead to the scoring API and read the score (and maybe a territory) from the
    answer. Raises integrations.errors.ProviderError when the API fails after its retries."""
    body = client.call(
        "POST",
        path,
        json={
            "contact_id": lead.contact_id,
            "contact": lead.contact,
            "company_id": lead.company_id,
            "company": lead.company,
        },
    )
    try:
        raw = extract(body, score_field)
        value = round(float(raw))
    except (KeyError, TypeError, ValueError):
        return Score(
            None, "unavailable", error=f"the scoring API's answer has no number at {score_field!r}"
        )
    territory = None
    if territory_field:
        try:
            territory = str(extract(body, territory_field) or "") or None
        except KeyError:
            territory = None
    parts = [
        {"rule": "scoring API", "points": value, "matched": True, "why": f"{path} answered {raw!r}"}
    ]
    return Score(value, "api", parts, territory)
