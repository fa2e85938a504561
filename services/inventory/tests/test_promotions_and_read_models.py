"""Promotion readiness arithmetic, and the pure parts of the read models."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from oms_events.contracts import (
    Allocation,
    PromotionPlanned,
    SkuRegistered,
    StockAllocated,
    StockDeallocated,
    StockIssued,
    StockTransferred,
)
from oms_inventory.domain.commands import PlanPromotion
from oms_inventory.domain.geography import distance_km
from oms_inventory.domain.promotions import PROMOTION, Promotion, assess
from oms_inventory.projections import demand, stock_levels
from oms_platform.testing.decider_spec import DeciderSpec

plans = DeciderSpec(PROMOTION)
NOW = datetime(2026, 3, 1, tzinfo=UTC)
SALE = Promotion(
    "promo-1",
    "Spring sale",
    ("TEE", "MUG"),
    NOW + timedelta(days=10),
    NOW + timedelta(days=17),
    Decimal("2.5"),
)


def test_readiness_projects_demand_before_and_during_the_promotion() -> None:
    available = {"TEE": {"AMS": 40, "BER": 5}, "MUG": {"AMS": 100}}
    sold = {"TEE": {"AMS": 56, "BER": 0}, "MUG": {"AMS": 28}}
    readiness = assess(SALE, available, sold, window_days=28, now=NOW)
    tee, mug = readiness.skus
    ams, ber = tee.warehouses
    # 2 a day: 20 sold before the start leaves 20; 7 days at 5 a day need 35.
    assert ams.velocity_per_day == Decimal("2.00")
    assert ams.demand_before_start == Decimal("20.00")
    assert ams.projected_available_at_start == Decimal("20.00")
    assert ams.promotion_demand == Decimal("35.00")
    assert (ams.shortfall, ams.suggested_reorder_quantity) == (15, 15)
    assert (ber.velocity_per_day, ber.shortfall) == (Decimal("0.00"), 0)
    assert (tee.shortfall, mug.shortfall) == (15, 0)
    assert not readiness.ready


def test_readiness_counts_only_what_is_left_of_a_running_promotion() -> None:
    halfway = SALE.starts_at + timedelta(days=3, hours=12)
    readiness = assess(SALE, {"TEE": {"AMS": 0}}, {"TEE": {"AMS": 28}}, window_days=28, now=halfway)
    [ams] = readiness.skus[0].warehouses
    assert ams.demand_before_start == 0
    assert ams.promotion_demand == Decimal("8.75")  # 3.5 days x 1 a day x 2.5
    assert ams.shortfall == 9  # whole units, rounded up


PLAN = PlanPromotion(
    "promo-1", SALE.name, SALE.skus, SALE.starts_at, SALE.ends_at, SALE.expected_uplift
)


def _registered(sku: str) -> SkuRegistered:
    return SkuRegistered(sku=sku, name=sku, weight_grams=1, length_mm=1, width_mm=1, height_mm=1)


def test_planning_needs_registered_skus_and_a_window() -> None:
    refusal = plans.given(_registered("TEE")).when(PLAN).then_refused("sku_not_found", status=404)
    assert "MUG" in refusal.reason and refusal.field == "skus"
    plans.given(_registered("TEE"), _registered("MUG")).when(
        replace(PLAN, ends_at=SALE.starts_at)
    ).then_refused("invalid_promotion_window", status=422)


def test_planning_is_idempotent_and_other_details_conflict() -> None:
    skus = (_registered("TEE"), _registered("MUG"))
    [planned] = plans.given(*skus).when(PLAN).then_matches(bool)
    assert isinstance(planned, PromotionPlanned) and Promotion.from_event(planned) == SALE
    plans.given(*skus, planned).when(PLAN).then_nothing()
    plans.given(*skus, planned).when(replace(PLAN, name="Other")).then_refused(
        "promotion_exists", status=409
    )


def test_stock_level_changes_per_event() -> None:
    moved = StockTransferred(sku="TEE", from_warehouse_id="AMS", to_warehouse_id="BER", quantity=3)
    assert [(c.warehouse_id, c.on_hand) for c in stock_levels.changes(moved)] == [
        ("AMS", -3),
        ("BER", 3),
    ]
    issued = StockIssued(order_id="o", shipment_id="s", sku="TEE", warehouse_id="AMS", quantity=2)
    [c] = stock_levels.changes(issued)
    assert (c.on_hand, c.reserved) == (-2, -2)


def test_demand_counts_reservations_net_of_releases_by_day() -> None:
    a = (Allocation(line_id="1", sku="TEE", warehouse_id="AMS", quantity=3),)
    day = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    got = demand.changes(
        StockAllocated(order_id="o", reservation_id="r", sku="TEE", allocations=a), day
    )
    assert [(c.warehouse_id, c.day.isoformat(), c.units) for c in got] == [("AMS", "2026-03-01", 3)]
    back = demand.changes(
        StockDeallocated(order_id="o", reservation_id="r", sku="TEE", allocations=a), day
    )
    assert back[0].units == -3


def test_distances_are_symmetric_and_zero_at_home() -> None:
    assert distance_km("NL", "NL") == 0
    assert distance_km("NL", "DE") == distance_km("DE", "NL")
    ber, mad = distance_km("DE", "PL"), distance_km("ES", "PL")
    assert ber is not None and mad is not None and ber < mad
    assert distance_km("NL", "US") is None
