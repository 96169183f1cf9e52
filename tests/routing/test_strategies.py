"""Strategies: fixed, round robin, weighted round robin with daily caps; skipping inactive
and archived owners; the preview that does not take a turn."""

from __future__ import annotations

from collections import Counter

import pytest

from pipelines.models import OwnerDailyCount, RoutingStrategy, StrategyState
from pipelines.routing.strategies import Seat, strategy_choose, territory_owner_pick
from tests.routing.factories import OwnerFactory, territory_with_owners


def seat(hubspot_id: str, weight: int = 1, unavailable: str = "") -> Seat:
    return Seat(int(hubspot_id), hubspot_id, f"rep {hubspot_id}", weight, None, 0, unavailable)


def run(strategy: str, seats: list[Seat], n: int) -> list[str]:
    counter, weights, picks = 0, {}, []
    for _ in range(n):
        chosen, counter, weights = strategy_choose(
            strategy=strategy, seats=seats, counter=counter, weights=weights
        )
        picks.append(chosen.hubspot_id)
    return picks


def test_round_robin_takes_turns_in_order():
    assert run(RoutingStrategy.ROUND_ROBIN, [seat("1"), seat("2"), seat("3")], 7) == [
        "1",
        "2",
        "3",
        "1",
        "2",
        "3",
        "1",
    ]


def test_fixed_always_picks_the_first_available():
    assert set(
        run(RoutingStrategy.FIXED, [seat("1", unavailable="inactive"), seat("2"), seat("3")], 5)
    ) == {"2"}


def test_weighted_round_robin_follows_the_weights_and_spreads_them():
    picks = run(RoutingStrategy.WEIGHTED_ROUND_ROBIN, [seat("1", 2), seat("2", 1)], 300)
    assert Counter(picks) == {"1": 200, "2": 100}
    assert picks[:3] == ["1", "2", "1"]  # smooth: never three in a row for the heavy one


def test_unavailable_owners_are_skipped_and_nobody_means_none():
    assert run(RoutingStrategy.ROUND_ROBIN, [seat("1", unavailable="inactive"), seat("2")], 3) == [
        "2",
        "2",
        "2",
    ]
    chosen, *_ = strategy_choose(
        strategy=RoutingStrategy.ROUND_ROBIN,
        seats=[seat("1", unavailable="x")],
        counter=0,
        weights={},
    )
    assert chosen is None


@pytest.mark.django_db
class TestTerritoryOwnerPick:
    def test_round_robin_in_the_database(self):
        a, b, c = OwnerFactory(), OwnerFactory(), OwnerFactory()
        territory = territory_with_owners("East", RoutingStrategy.ROUND_ROBIN, [a, b, c])
        picks = [territory_owner_pick(territory=territory).owner_pk for _ in range(6)]
        assert picks == [a.pk, b.pk, c.pk, a.pk, b.pk, c.pk]
        assert StrategyState.objects.get(territory=territory).counter == 6

    def test_inactive_and_archived_owners_are_skipped(self):
        a, b, c = OwnerFactory(active=False), OwnerFactory(), OwnerFactory(archived=True)
        territory = territory_with_owners("East", RoutingStrategy.ROUND_ROBIN, [a, b, c])
        pick = territory_owner_pick(territory=territory)
        assert pick.owner_pk == b.pk
        assert "skipped: inactive" in pick.reason
        assert "archived in HubSpot" in pick.reason

    def test_daily_cap_moves_leads_on_and_then_stops(self):
        a, b = OwnerFactory(), OwnerFactory()
        territory = territory_with_owners("EMEA", RoutingStrategy.WEIGHTED_ROUND_ROBIN, [a, b])
        territory.memberships.filter(owner=a).update(weight=3, daily_cap=2)
        territory.memberships.filter(owner=b).update(daily_cap=2)
        picks = [territory_owner_pick(territory=territory).owner_pk for _ in range(5)]
        assert Counter(picks) == {a.pk: 2, b.pk: 2, None: 1}
        assert dict(OwnerDailyCount.objects.values_list("owner_id", "count")) == {a.pk: 2, b.pk: 2}

    def test_a_preview_does_not_take_a_turn(self):
        a, b = OwnerFactory(), OwnerFactory()
        territory = territory_with_owners("East", RoutingStrategy.ROUND_ROBIN, [a, b])
        territory_owner_pick(territory=territory)
        previews = {
            territory_owner_pick(territory=territory, preview=True).owner_pk for _ in range(3)
        }
        assert previews == {b.pk}
        assert StrategyState.objects.get(territory=territory).counter == 1
        assert OwnerDailyCount.objects.get(owner=a).count == 1
        assert not OwnerDailyCount.objects.filter(owner=b).exists()
        assert territory_owner_pick(territory=territory).owner_pk == b.pk
