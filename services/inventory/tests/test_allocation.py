"""Source selection: examples per strategy, then properties over generated stock and orders."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from oms_events.contracts import AllocationStrategy
from oms_inventory.domain.allocation import (
    STRATEGIES,
    AllocationFailure,
    AllocationPlan,
    LineRequest,
    Warehouse,
    allocate,
    rank_key,
)

AMS = Warehouse("AMS", "NL", priority=2)
BER = Warehouse("BER", "DE", priority=1)
MAD = Warehouse("MAD", "ES", priority=3)
ALL = [AMS, BER, MAD]
BY_PRIORITY = AllocationStrategy.BY_PRIORITY
NEAREST = AllocationStrategy.NEAREST
FEWEST = AllocationStrategy.FEWEST_PARCELS


def plan(result: AllocationPlan | AllocationFailure) -> AllocationPlan:
    assert isinstance(result, AllocationPlan), result
    return result


def served(result: AllocationPlan) -> set[tuple[str, str, str, int]]:
    return {(a.line_id, a.sku, a.warehouse_id, a.quantity) for a in result.allocations}


def test_nearest_prefers_the_delivery_country() -> None:
    stock = {"TEE": {"AMS": 5, "BER": 5, "MAD": 5}}
    result = plan(allocate(stock, [LineRequest("1", "TEE", 2)], "NL", ALL, NEAREST))
    assert served(result) == {("1", "TEE", "AMS", 2)}
    assert "in NL" in result.summary and result.strategy is NEAREST
    assert result.reasons[0].line_id == "1" and "AMS" in result.reasons[0].reason


def test_nearest_falls_back_by_distance_then_priority() -> None:
    stock = {"TEE": {"BER": 5, "MAD": 5}}
    # Poland: Berlin is nearer than Madrid.
    assert served(plan(allocate(stock, [LineRequest("1", "TEE", 1)], "PL", ALL, NEAREST))) == {
        ("1", "TEE", "BER", 1)
    }
    # A country outside the distance table: every warehouse is equally far, priority decides.
    result = plan(allocate(stock, [LineRequest("1", "TEE", 1)], "US", ALL, NEAREST))
    assert served(result) == {("1", "TEE", "BER", 1)}
    assert "distance unknown" in result.summary


def test_by_priority_takes_the_best_priority_that_holds_everything() -> None:
    stock = {"TEE": {"AMS": 5, "BER": 5}, "MUG": {"AMS": 1}}
    lines = [LineRequest("1", "TEE", 2), LineRequest("2", "MUG", 1)]
    result = plan(allocate(stock, lines, "DE", ALL, BY_PRIORITY))
    # BER has the best priority but no mug: one parcel from AMS beats a split.
    assert result.warehouses == ("AMS",)
    assert "BER has 0 of 1 MUG" in result.summary


def test_split_by_priority_fills_in_priority_order() -> None:
    stock = {"TEE": {"AMS": 3, "BER": 2, "MAD": 1}}
    result = plan(allocate(stock, [LineRequest("1", "TEE", 6)], "NL", ALL, BY_PRIORITY))
    assert served(result) == {
        ("1", "TEE", "BER", 2),
        ("1", "TEE", "AMS", 3),
        ("1", "TEE", "MAD", 1),
    }
    assert result.split and "split over 3" in result.summary


def test_fewest_parcels_beats_nearest_when_splitting() -> None:
    stock = {"TEE": {"AMS": 1, "MAD": 2}, "MUG": {"BER": 1, "MAD": 1}}
    # TEE needs AMS and MAD together; MUG could come from BER (nearer) or MAD (already used).
    lines = [LineRequest("1", "TEE", 3), LineRequest("2", "MUG", 1)]
    nearest = plan(allocate(stock, lines, "NL", ALL, NEAREST))
    fewest = plan(allocate(stock, lines, "NL", ALL, FEWEST))
    assert len(nearest.warehouses) == 3  # AMS first for TEE, BER nearest for MUG, MAD rest
    assert sorted(fewest.warehouses) == ["AMS", "MAD"]
    assert "2 is the fewest" in fewest.summary


def test_shortage_names_every_short_sku_and_allocates_nothing() -> None:
    stock = {"TEE": {"AMS": 1, "BER": 1}, "MUG": {"MAD": 9}}
    lines = [LineRequest("1", "TEE", 2), LineRequest("2", "TEE", 1), LineRequest("3", "CAP", 1)]
    result = allocate(stock, lines, "NL", ALL, NEAREST)
    assert isinstance(result, AllocationFailure)
    assert {(s.sku, s.requested, s.available) for s in result.shortages} == {
        ("TEE", 3, 2),
        ("CAP", 1, 0),
    }
    assert "TEE: 3 requested, 2 available" in result.summary


def test_inactive_warehouses_never_ship() -> None:
    closed = Warehouse("AMS", "NL", priority=1, active=False)
    stock = {"TEE": {"AMS": 50, "BER": 1}}
    result = allocate(stock, [LineRequest("1", "TEE", 2)], "NL", [closed, BER], NEAREST)
    assert isinstance(result, AllocationFailure)
    assert result.shortages[0].available == 1


# -- properties ---------------------------------------------------------------------------

COUNTRIES = ["NL", "DE", "ES", "FR", "PL", "IT", "US"]
SKUS = ["A", "B", "C"]


@st.composite
def scenarios(
    draw: st.DrawFn,
) -> tuple[list[Warehouse], dict[str, dict[str, int]], list[LineRequest], str]:
    n = draw(st.integers(1, 5))
    warehouses = [
        Warehouse(
            f"W{i}",
            draw(st.sampled_from(COUNTRIES)),
            priority=draw(st.integers(0, 3)),
            active=draw(st.booleans()) or i == 0,
        )
        for i in range(n)
    ]
    stock = {
        sku: {w.code: draw(st.integers(-2, 8)) for w in warehouses if draw(st.booleans())}
        for sku in SKUS
    }
    lines = [
        LineRequest(str(i), draw(st.sampled_from(SKUS)), draw(st.integers(1, 6)))
        for i in range(draw(st.integers(1, 4)))
    ]
    return warehouses, stock, lines, draw(st.sampled_from(COUNTRIES))


@settings(max_examples=400, deadline=None)
@given(scenarios(), st.sampled_from(STRATEGIES))
def test_allocation_never_exceeds_stock_and_covers_every_line_or_fails(
    scenario: tuple[list[Warehouse], dict[str, dict[str, int]], list[LineRequest], str],
    strategy: AllocationStrategy,
) -> None:
    warehouses, stock, lines, country = scenario
    active = {w.code for w in warehouses if w.active}
    avail = {s: {w: max(0, stock.get(s, {}).get(w, 0)) for w in active} for s in SKUS}
    demand = {s: sum(ln.quantity for ln in lines if ln.sku == s) for s in SKUS}
    result = allocate(stock, lines, country, warehouses, strategy)
    if isinstance(result, AllocationFailure):
        # It fails only when some SKU really is short, and names exactly those SKUs.
        short = {s for s in SKUS if demand[s] > sum(avail[s].values())}
        assert short and {x.sku for x in result.shortages} == short
        for x in result.shortages:
            assert (x.requested, x.available) == (demand[x.sku], sum(avail[x.sku].values()))
        return
    # Every line in full, nothing from an inactive warehouse, never above availability.
    for line in lines:
        got = [a for a in result.allocations if a.line_id == line.line_id]
        assert all(a.sku == line.sku and a.quantity > 0 for a in got)
        assert sum(a.quantity for a in got) == line.quantity
    used: dict[tuple[str, str], int] = {}
    for a in result.allocations:
        assert a.warehouse_id in active
        used[(a.sku, a.warehouse_id)] = used.get((a.sku, a.warehouse_id), 0) + a.quantity
    assert all(q <= avail[s][w] for (s, w), q in used.items())
    assert {r.line_id for r in result.reasons} == {ln.line_id for ln in lines}
    _respects_strategy(result, warehouses, avail, demand, country, strategy, used)


def _respects_strategy(
    result: AllocationPlan,
    warehouses: list[Warehouse],
    avail: dict[str, dict[str, int]],
    demand: dict[str, int],
    country: str,
    strategy: AllocationStrategy,
    used: dict[tuple[str, str], int],
) -> None:
    ranked = sorted((w for w in warehouses if w.active), key=rank_key(strategy, country))
    needed = {s: q for s, q in demand.items() if q}
    whole = [w for w in ranked if all(avail[s][w.code] >= q for s, q in needed.items())]
    if whole:
        # One parcel whenever one warehouse can, and the strategy's first choice of those.
        assert result.warehouses == (whole[0].code,)
        return
    if strategy is AllocationStrategy.FEWEST_PARCELS:
        fewest = next(
            k
            for k in range(1, len(ranked) + 1)
            for group in itertools.combinations(ranked, k)
            if all(sum(avail[s][w.code] for w in group) >= q for s, q in needed.items())
        )
        assert len(result.warehouses) == fewest
        return
    # Greedy in rank order: a warehouse serves a SKU only once all before it are used up.
    for sku in needed:
        order = [w.code for w in ranked]
        taking = [w for w in order if used.get((sku, w), 0)]
        last = order.index(taking[-1])
        for w in order[:last]:
            assert used.get((sku, w), 0) == avail[sku][w], (sku, w)
