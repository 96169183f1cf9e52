"""Ask one provider about a list of domains, in the provider's own batch unit.

Runs in a worker thread (one per source, so no source waits for another) and touches no
database: what it needs (client, budget) is decided before, what it learned (answers, calls,
credits, failures) is returned and stored by the run's own thread. Facts: docs/enrichment.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from integrations.clearbit.client import LookupPending
from integrations.errors import ProviderError

APOLLO_BATCH = 10  # bulk organization enrichment: at most 10 domains per call
BUILTWITH_BATCH = 16  # Domain API: at most 16 domains per lookup


@dataclass
class Budget:
    """What a source may still spend in this chunk (None: no limit of ours)."""

    calls: int | None = None
    credits: int | None = None

    def allows(self, *, calls: int, credits: int) -> bool:
        return (self.calls is None or calls <= self.calls) and (
            self.credits is None or credits <= self.credits
        )

    def spend(self, *, calls: int, credits: int) -> None:
        if self.calls is not None:
            self.calls -= calls
        if self.credits is not None:
            self.credits -= credits


@dataclass
class SourceFailure:
    category: str
    message: str
    permanent: bool


@dataclass
class SourceOutcome:
    """Per domain: ``found`` (data), ``missing`` (the provider knows nothing), ``failed``."""

    found: dict[str, dict[str, Any]] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)
    failed: dict[str, SourceFailure] = field(default_factory=dict)
    calls: int = 0
    credits: int = 0

    def fail(self, domains: list[str], error: Exception | SourceFailure) -> None:
        failure = error if isinstance(error, SourceFailure) else _failure(error)
        for domain in domains:
            self.failed[domain] = failure


def _failure(error: Exception) -> SourceFailure:
    if isinstance(error, ProviderError):
        return SourceFailure(error.kind, str(error)[:300], bool(error.permanent))
    return SourceFailure("error", f"{type(error).__name__}: {str(error)[:250]}", False)


BUDGET_SPENT = SourceFailure("budget_exhausted", "the source's budget for today is spent", False)


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def apollo_fetch(client: Any, domains: list[str], budget: Budget) -> SourceOutcome:
    """Bulk organization enrichment, 10 domains a call, 1 credit per organization found."""
    out = SourceOutcome()
    for chunk in _chunks(domains, APOLLO_BATCH):
        if not budget.allows(calls=1, credits=len(chunk)):
            out.fail(chunk, BUDGET_SPENT)
            continue
        out.calls += 1
        try:
            found = client.bulk_enrich_organizations(chunk)
        except ProviderError as error:
            out.fail(chunk, error)
            continue
        out.credits += len(found)
        budget.spend(calls=1, credits=len(found))
        for domain in chunk:
            if domain in found:
                out.found[domain] = found[domain]
            else:
                out.missing.add(domain)
    return out


def builtwith_fetch(client: Any, domains: list[str], budget: Budget) -> SourceOutcome:
    """Domain API lookups of up to 16 domains: technology names and the monthly spend."""
    out = SourceOutcome()
    for chunk in _chunks(domains, BUILTWITH_BATCH):
        if not budget.allows(calls=1, credits=len(chunk)):
            out.fail(chunk, BUDGET_SPENT)
            continue
        out.calls += 1
        try:
            answer = client.lookup(chunk)
        except ProviderError as error:
            out.fail(chunk, error)
            continue
        results = {}
        for result in answer.get("Results") or []:
            lookup = str(result.get("Lookup") or "").lower()
            results[lookup] = builtwith_summary(result)
        out.credits += len(results)
        budget.spend(calls=1, credits=len(results))
        for domain in chunk:
            if domain in results:
                out.found[domain] = results[domain]
            else:
                out.missing.add(domain)
    return out


def builtwith_summary(result: dict[str, Any]) -> dict[str, Any]:
    """The fields a workflow maps: ``technologies`` (names), ``categories``, ``spend``."""
    body = result.get("Result") or {}
    names, categories = set(), set()
    for path in body.get("Paths") or []:
        for tech in path.get("Technologies") or []:
            if tech.get("Name"):
                names.add(str(tech["Name"]))
            categories.update(str(c) for c in tech.get("Categories") or [])
    return {
        "technologies": sorted(names, key=str.lower),
        "categories": sorted(categories),
        "spend": body.get("Spend"),
    }


def clearbit_fetch(
    client: Any,
    domains: list[str],
    budget: Budget,
    *,
    pending_attempts: int = 3,
    pending_wait: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> SourceOutcome:
    """One lookup per domain. 202 (queued) is asked again up to ``pending_attempts`` times,
    ``pending_wait`` seconds apart; still queued then, it fails for now (reprocessable)."""
    out = SourceOutcome()
    waiting = list(domains)
    for attempt in range(pending_attempts):
        if attempt:
            sleep(pending_wait)
        still = []
        for domain in waiting:
            if not budget.allows(calls=1, credits=1):
                out.fail([domain], BUDGET_SPENT)
                continue
            out.calls += 1
            budget.spend(calls=1, credits=1)
            try:
                company = client.company(domain)
            except LookupPending:
                still.append(domain)
                continue
            except ProviderError as error:
                out.fail([domain], error)
                continue
            out.credits += 1
            if company:
                out.found[domain] = company
            else:
                out.missing.add(domain)
        waiting = still
        if not waiting:
            break
    pending = SourceFailure(
        "pending", f"Clearbit still queued the lookup after {pending_attempts} asks", False
    )
    out.fail(waiting, pending)
    return out


FETCHERS: dict[str, Callable[..., SourceOutcome]] = {
    "apollo": apollo_fetch,
    "builtwith": builtwith_fetch,
    "clearbit": clearbit_fetch,
}
