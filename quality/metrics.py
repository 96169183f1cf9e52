"""Quality metrics as pure functions over records (dicts of values): no database here.

Definitions and sources: docs/quality.md. Every function returns None when nothing was in
scope, so "not evaluated" is never shown as 0 % or 100 %.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def is_missing(value: object) -> bool:
    """NULL, an empty or whitespace-only string, or a placeholder such as "n/a"."""
    if value is None:
        return True
    if isinstance(value, str):
        text = value.strip().lower()
        return text in ("", "n/a", "na", "-", "unknown", "null", "none")
    return False


def completeness(records: Iterable[dict], fields: Sequence[str]) -> tuple[int, int]:
    """(filled, in scope) over every required field of every record."""
    filled = total = 0
    for values in records:
        for name in fields:
            total += 1
            filled += not is_missing(values.get(name))
    return filled, total


def percent(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(100.0 * part / whole, 2)


def duplication_rate(keys: Iterable[str | None]) -> tuple[float | None, int]:
    """ "Extra copies": (non-empty keys - distinct keys) / non-empty keys, in percent, and the
    number of groups that share a key. Keys must already be normalised (lower-cased email,
    bare domain)."""
    seen: dict[str, int] = {}
    for key in keys:
        if key:
            seen[key] = seen.get(key, 0) + 1
    total = sum(seen.values())
    if total == 0:
        return None, 0
    groups = sum(1 for count in seen.values() if count > 1)
    return round(100.0 * (total - len(seen)) / total, 2), groups


@dataclass(frozen=True)
class Proportion:
    correct: int
    n: int
    rate: float | None
    low: float | None
    high: float | None


def wilson_interval(correct: int, n: int, z: float = 1.96) -> Proportion:
    """Wilson score interval for ``correct`` out of ``n`` (95 % with z = 1.96): never outside
    0-1, unlike p +/- z*SE, and honest for small samples (docs/quality.md, "Accuracy")."""
    if n == 0:
        return Proportion(0, 0, None, None, None)
    p = correct / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return Proportion(correct, n, p, max(0.0, centre - half), min(1.0, centre + half))


def sample_size(margin: float, population: int | None = None, z: float = 1.96) -> int:
    """Records to review for a +/- ``margin`` interval at 95 % (worst case p = 0.5), with the
    finite-population correction when the population is known."""
    n0 = z * z * 0.25 / (margin * margin)
    if population:
        n0 = n0 / (1 + (n0 - 1) / population)
    return math.ceil(n0)
