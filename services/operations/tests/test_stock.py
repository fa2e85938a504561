"""``ops_stock``, ``ops_stock_daily`` and ``ops_promotions``: the inventory service's
arithmetic per SKU x warehouse, sales per day, and the promotion readiness rule."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal
from typing import Any

from oms_events.contracts.common import Allocation
from oms_events.contracts.inventory import (
    LowStockThresholdSet,
    PromotionPlanned,
    StockAdjusted,
    StockAllocated,
    StockDeallocated,
    StockIssued,
    StockReceived,
    StockReserved,
    StockTransferred,
    StockWrittenDown,
)
from oms_operations.projections import promotions, stock
from oms_operations.projections.promotions import PromotionRow

from .events import HOUR, T0, at, make

DAY = timedelta(days=1)


def alloc(wh: str, qty: int, line: str = "1") -> dict[str, Any]:
    return Allocation(line_id=line, sku="TEE", warehouse_id=wh, quantity=qty).model_dump()


def project(history: list[Any]) -> dict[tuple[Any, ...], Any]:
    """Every row the history touches, as the runner would store them."""
    rows: dict[tuple[Any, ...], Any] = {}
    for env, event in history:
        for key in stock.keys(env, event):
            rows[key] = stock.apply(rows.get(key) or stock.StockRow(*key), env, event)
    return rows


def tee_history() -> list[Any]:
    return [
        at(make(StockReceived, sku="TEE", warehouse_id="AMS", quantity=40), T0),
        at(make(LowStockThresholdSet, sku="TEE", warehouse_id="AMS", threshold=30), T0),
        at(make(StockAdjusted, sku="TEE", warehouse_id="AMS", delta=-2), T0 + HOUR),
        at(
            make(
                StockTransferred,
                sku="TEE",
                from_warehouse_id="AMS",
                to_warehouse_id="BER",
                quantity=10,
            ),
            T0 + HOUR,
        ),
        at(
            make(StockAllocated, sku="TEE", allocations=[alloc("AMS", 3), alloc("BER", 2, "2")]), T0
        ),
        at(make(StockAllocated, sku="TEE", allocations=[alloc("AMS", 4)]), T0 + DAY),
        at(make(StockDeallocated, sku="TEE", allocations=[alloc("AMS", 4)]), T0 + DAY),
        at(make(StockIssued, sku="TEE", warehouse_id="AMS", quantity=3), T0 + DAY),
        at(
            make(StockWrittenDown, sku="TEE", warehouse_id="BER", quantity=2, reserved=1),
            T0 + DAY,
        ),
    ]


def test_stock_moves_as_the_inventory_service_counts_it() -> None:
    rows = project(tee_history())
    ams, ber = rows[("TEE", "AMS")], rows[("TEE", "BER")]
    # 40 received - 2 counted - 10 moved out - 3 shipped; 3 + 4 - 4 reserved - 3 shipped
    assert (ams.on_hand, ams.reserved, ams.available) == (25, 0, 25)
    assert ams.threshold == 30 and ams.low is True
    # 10 moved in - 2 lost; 2 reserved - 1 of the lost units was reserved
    assert (ber.on_hand, ber.reserved, ber.available) == (8, 1, 7)
    assert ber.threshold == 0 and ber.low is False


def test_the_rows_do_not_depend_on_the_order_of_arrival_and_the_latest_threshold_counts() -> None:
    history = tee_history()
    later = at(make(LowStockThresholdSet, sku="TEE", warehouse_id="AMS", threshold=5), T0 + DAY)
    want = project([*history, later])
    assert want[("TEE", "AMS")].threshold == 5 and not want[("TEE", "AMS")].low
    for order in itertools.islice(itertools.permutations([*history[:3], later]), 30):
        assert project([*order, *history[3:]]) == want


def test_per_order_events_are_not_counted_twice() -> None:
    reserved = make(StockReserved)
    env, _ = at(reserved, T0)
    assert stock.keys(env, reserved) == []
    assert StockReserved not in stock.HANDLED


def test_sales_per_day_count_net_reservations_and_shipments() -> None:
    rows: dict[tuple[Any, ...], Any] = {}
    for env, event in tee_history():
        for key in stock.sales_keys(env, event):
            rows[key] = stock.apply_sales(rows.get(key) or stock.SalesDayRow(*key), env, event)
    first, second = T0.date(), (T0 + DAY).date()
    assert rows[("TEE", "AMS", first)].reserved == 3
    assert rows[("TEE", "BER", first)].reserved == 2
    assert (rows[("TEE", "AMS", second)].reserved, rows[("TEE", "AMS", second)].shipped) == (0, 3)
    assert ("TEE", "BER", second) not in rows  # a write-down is no sale


def plan(**changes: Any) -> PromotionRow:
    env, event = at(
        make(
            PromotionPlanned,
            **{
                "promotion_id": "p1",
                "skus": ["TEE"],
                "starts_at": T0 + 10 * DAY,
                "ends_at": T0 + 17 * DAY,
                "expected_uplift": "2.5",
                **changes,
            },
        ),
        T0,
    )
    row = promotions.apply(None, env, event)
    assert row is not None
    return row


def test_a_planned_promotion_is_stored_as_planned() -> None:
    row = plan()
    assert (row.promotion_id, row.skus, row.expected_uplift) == ("p1", ("TEE",), Decimal("2.5"))
    assert (row.starts_at, row.ends_at) == (T0 + 10 * DAY, T0 + 17 * DAY)


def test_readiness_rate_demand_shortfall_and_reorder() -> None:
    # 56 units in 28 days: 2 a day; 20 sold before the start leaves 30 of 50;
    # 2 x 2.5 x 7 days = 35 expected during it: 5 short.
    o = promotions.outlook(plan(), "TEE", "AMS", available=50, reserved_in_window=56, now=T0)
    assert o.rate_per_day == Decimal("2.00") and o.demand_before_start == Decimal("20.00")
    assert o.expected_demand == Decimal("35.00")
    assert (o.shortfall, o.suggested_reorder) == (5, 5)
    enough = promotions.outlook(plan(), "TEE", "AMS", available=55, reserved_in_window=56, now=T0)
    assert enough.shortfall == 0


def test_a_running_promotion_counts_only_the_days_left_and_rounds_up() -> None:
    # 3 days into the 7: 4 days left at 1 x 1.5 a day = 6 against 5 available.
    o = promotions.outlook(
        plan(expected_uplift="1.5"),
        "TEE",
        "AMS",
        available=5,
        reserved_in_window=28,
        now=T0 + 13 * DAY,
    )
    assert (o.demand_before_start, o.expected_demand, o.shortfall) == (0, Decimal("6.00"), 1)


def test_readiness_covers_every_warehouse_that_stocks_or_sold_the_sku() -> None:
    found = promotions.outlooks(
        plan(),
        {("TEE", "AMS"): 50, ("MUG", "AMS"): 9},
        {("TEE", "BER"): 28},
        now=T0,
    )
    assert [(o.sku, o.warehouse, o.available) for o in found] == [
        ("TEE", "AMS", 50),
        ("TEE", "BER", 0),
    ]
    assert found[1].shortfall == 18  # 1 a day: 10 before, 17.5 during, nothing there
