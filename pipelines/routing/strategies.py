"""Choosing an owner inside a territory: fixed, round robin, weighted round robin.

`strategy_choose` is pure (state in, choice and new state out). `territory_owner_pick` wraps
it in a transaction that locks the territory's StrategyState row (SELECT … FOR UPDATE), so
two workers never read the same counter: on PostgreSQL the second waits for the first's
commit, on SQLite the write lock serializes them. The lock covers a few small queries and
never an HTTP call. `preview=True` reads the same state without locking or writing: the
simulator must not advance anyone's turn.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from pipelines.models import (
    OwnerDailyCount,
    RoutingStrategy,
    StrategyState,
    Territory,
    TerritoryOwner,
)


@dataclass(frozen=True)
class Seat:
    """One owner's place in a territory, as the strategy sees it."""

    owner_pk: int
    hubspot_id: str
    name: str
    weight: int
    daily_cap: int | None
    today: int
    unavailable: str  # "" when the owner may take this lead, else why not


@dataclass(frozen=True)
class Pick:
    owner_pk: int | None
    state: dict[str, Any]  # the round as it was when choosing, for the explanation
    reason: str


def strategy_choose(
    *, strategy: str, seats: list[Seat], counter: int, weights: dict[str, int]
) -> tuple[Seat | None, int, dict[str, int]]:
    """(chosen seat or None, new counter, new weights). Seats come in position order."""
    eligible = [s for s in seats if not s.unavailable]
    if not eligible:
        return None, counter, weights
    if strategy == RoutingStrategy.FIXED:
        return eligible[0], counter + 1, weights
    if strategy == RoutingStrategy.ROUND_ROBIN:
        return eligible[counter % len(eligible)], counter + 1, weights
    # Smooth weighted round robin (nginx's): every eligible seat gains its weight, the
    # richest is chosen and pays the total. Over any window the shares follow the weights,
    # and a heavy owner's leads are spread out rather than given in a burst.
    current = dict(weights)
    total = 0
    for seat in eligible:
        current[seat.hubspot_id] = current.get(seat.hubspot_id, 0) + seat.weight
        total += seat.weight
    chosen = max(eligible, key=lambda s: current[s.hubspot_id])  # ties: the earlier position
    current[chosen.hubspot_id] -= total
    return chosen, counter + 1, current


def territory_seats(
    *, territory: Territory, day: Any, connection_id: int | None = None
) -> list[Seat]:
    """The territory's owners in order, each with why it cannot take a lead now (or "").
    With ``connection_id``, an owner synced from another HubSpot portal cannot: its id means
    nothing (or someone else) in this portal."""
    memberships = list(
        TerritoryOwner.objects.filter(territory=territory)
        .select_related("owner")
        .order_by("position", "id")
    )
    counts = dict(
        OwnerDailyCount.objects.filter(
            owner_id__in=[m.owner_id for m in memberships], day=day
        ).values_list("owner_id", "count")
    )
    seats = []
    for m in memberships:
        owner, today = m.owner, counts.get(m.owner_id, 0)
        if connection_id is not None and owner.hubspot_connection_id not in (None, connection_id):
            unavailable = "belongs to another HubSpot portal"
        elif owner.archived:
            unavailable = "archived in HubSpot"
        elif not owner.active:
            unavailable = "inactive"
        elif m.daily_cap is not None and today >= m.daily_cap:
            unavailable = f"daily cap of {m.daily_cap} reached"
        else:
            unavailable = ""
        seats.append(
            Seat(owner.pk, owner.hubspot_id, owner.name, m.weight, m.daily_cap, today, unavailable)
        )
    return seats


def territory_owner_pick(
    *, territory: Territory, preview: bool = False, connection_id: int | None = None
) -> Pick:
    """Choose the owner for one lead and, unless previewing, advance the territory's round
    and the owner's count for today, atomically."""
    day = timezone.localdate()
    if preview:
        state = StrategyState.objects.filter(territory=territory).first() or StrategyState(
            territory=territory
        )
        return _pick(
            territory,
            state,
            territory_seats(territory=territory, day=day, connection_id=connection_id),
        )
    with transaction.atomic():
        # Write first, read second: on PostgreSQL the UPDATE takes the row lock that FOR
        # UPDATE would; on SQLite (the demo) it takes the database write lock before the
        # counter is read, which a deferred transaction's SELECT would not.
        if not StrategyState.objects.filter(territory=territory).update(counter=F("counter")):
            StrategyState.objects.get_or_create(
                territory=territory
            )  # first lead: a creation race is retried by Django
        state = StrategyState.objects.select_for_update().get(territory=territory)
        pick = _pick(
            territory,
            state,
            territory_seats(territory=territory, day=day, connection_id=connection_id),
        )
        state.counter = pick.state["counter_after"]
        state.weights = pick.state["weights_after"]
        state.save(update_fields=["counter", "weights", "updated_at"])
        if pick.owner_pk is not None:
            row, _ = OwnerDailyCount.objects.get_or_create(owner_id=pick.owner_pk, day=day)
            OwnerDailyCount.objects.filter(pk=row.pk).update(count=F("count") + 1)
    return pick


def _pick(territory: Territory, state: StrategyState, seats: list[Seat]) -> Pick:
    chosen, counter, weights = strategy_choose(
        strategy=territory.strategy,
        seats=seats,
        counter=state.counter,
        weights=dict(state.weights or {}),
    )
    snapshot = {
        "territory": territory.name,
        "strategy": territory.strategy,
        "counter_before": state.counter,
        "counter_after": counter,
        "weights_before": dict(state.weights or {}),
        "weights_after": weights,
        "seats": [asdict(s) for s in seats],
        "chosen": chosen.hubspot_id if chosen else None,
    }
    if chosen is None:
        reason = f"{territory.name}: no owner can take the lead" + (
            f" ({'; '.join(f'{s.name}: {s.unavailable}' for s in seats)})"
            if seats
            else " (no owners)"
        )
        return Pick(None, snapshot, reason)
    label = RoutingStrategy(territory.strategy).label.lower()
    skipped = [f"{s.name} skipped: {s.unavailable}" for s in seats if s.unavailable]
    reason = f"{territory.name} uses {label}; it was {chosen.name}'s turn" + (
        f" ({'; '.join(skipped)})" if skipped else ""
    )
    if territory.strategy == RoutingStrategy.FIXED:
        reason = f"{territory.name} always goes to its first available owner, {chosen.name}" + (
            f" ({'; '.join(skipped)})" if skipped else ""
        )
    return Pick(chosen.owner_pk, snapshot, reason)
