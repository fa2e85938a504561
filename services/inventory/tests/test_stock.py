"""Stock of one SKU: given events, when a command, then events (pure domain)."""

from __future__ import annotations

import pytest

from oms_events.base import Event
from oms_events.contracts import (
    Allocation,
    LowStockDetected,
    LowStockThresholdSet,
    SkuRegistered,
    StockAdjusted,
    StockAllocated,
    StockDeallocated,
    StockIssued,
    StockReceived,
    StockTransferred,
    WarehouseRegistered,
)
from oms_inventory.domain import stock, warehouses
from oms_inventory.domain.commands import (
    AdjustStock,
    ReceiveStock,
    RegisterSku,
    RegisterWarehouse,
    SetLowStockThreshold,
    TransferStock,
)
from oms_inventory.domain.errors import Conflict, NotFound
from oms_inventory.domain.stock import SkuStock
from oms_inventory.domain.warehouses import Warehouses

TEE = SkuRegistered(
    sku="TEE", name="Tee", weight_grams=180, length_mm=300, width_mm=250, height_mm=20
)


def given(*events: Event) -> SkuStock:
    return stock.replay("TEE", events)


def known() -> Warehouses:
    state = Warehouses()
    for code, country, prio in (("AMS", "NL", 1), ("BER", "DE", 2)):
        event = WarehouseRegistered(
            warehouse_id=code, name=code, country=country, priority=prio, active=True
        )
        state = warehouses.evolve(state, event)
    return state


def received(wh: str, q: int, ref: str | None = None) -> StockReceived:
    return StockReceived(sku="TEE", warehouse_id=wh, quantity=q, reference=ref)


def allocated(wh: str, q: int, order: str = "ord-1") -> StockAllocated:
    a = Allocation(line_id="1", sku="TEE", warehouse_id=wh, quantity=q)
    return StockAllocated(
        order_id=order, reservation_id=f"res-{order}", sku="TEE", allocations=(a,)
    )


def test_levels_follow_every_kind_of_movement() -> None:
    a = Allocation(line_id="1", sku="TEE", warehouse_id="AMS", quantity=2)
    state = given(
        TEE,
        received("AMS", 10),
        StockTransferred(sku="TEE", from_warehouse_id="AMS", to_warehouse_id="BER", quantity=3),
        allocated("AMS", 4),
        StockDeallocated(order_id="ord-1", reservation_id="r", sku="TEE", allocations=(a,)),
        StockIssued(order_id="ord-1", shipment_id="s", sku="TEE", warehouse_id="AMS", quantity=2),
        StockAdjusted(sku="TEE", warehouse_id="BER", delta=-1, counted_quantity=2, reason="count"),
    )
    ams, ber = state.level("AMS"), state.level("BER")
    assert (ams.on_hand, ams.reserved, ams.available) == (5, 0, 5)
    assert (ber.on_hand, ber.reserved, ber.available) == (2, 0, 2)


def test_registering_twice_is_a_no_op_but_other_details_conflict() -> None:
    cmd = RegisterSku("TEE", "Tee", 180, 300, 250, 20)
    assert stock.register(cmd, given()) == [TEE]
    assert stock.register(cmd, given(TEE)) == []
    heavier = RegisterSku("TEE", "Tee", 200, 300, 250, 20)
    with pytest.raises(Conflict):
        stock.register(heavier, given(TEE))
    assert stock.register(RegisterSku("TEE", "Tee", 200, 300, 250, 20, replace=True), given(TEE))


def test_receipts_need_a_known_sku_and_warehouse_and_book_a_reference_once() -> None:
    with pytest.raises(NotFound, match="SKU 'TEE'"):
        stock.receive(ReceiveStock("TEE", "AMS", 5), given(), known())
    with pytest.raises(NotFound, match="warehouse 'OSL'"):
        stock.receive(ReceiveStock("TEE", "OSL", 5), given(TEE), known())
    cmd = ReceiveStock("TEE", "AMS", 5, "PO-1")
    assert stock.receive(cmd, given(TEE), known()) == [received("AMS", 5, "PO-1")]
    assert stock.receive(cmd, given(TEE, received("AMS", 5, "PO-1")), known()) == []
    # The same reference at another warehouse is another delivery.
    assert stock.receive(ReceiveStock("TEE", "BER", 5, "PO-1"), given(TEE), known())


def test_count_sets_on_hand_but_not_below_what_is_reserved() -> None:
    state = given(TEE, received("AMS", 10), allocated("AMS", 4))
    [adjusted] = stock.adjust(AdjustStock("TEE", "AMS", 6, "cycle count"), state, known())
    assert adjusted == StockAdjusted(
        sku="TEE", warehouse_id="AMS", delta=-4, counted_quantity=6, reason="cycle count"
    )
    with pytest.raises(Conflict, match="4 units of TEE are reserved"):
        stock.adjust(AdjustStock("TEE", "AMS", 3, "count"), state, known())


def test_transfer_moves_only_available_units() -> None:
    state = given(TEE, received("AMS", 10), allocated("AMS", 4))
    with pytest.raises(Conflict, match="only 6 units"):
        stock.transfer(TransferStock("TEE", "AMS", "BER", 7), state, known())
    [moved] = stock.transfer(TransferStock("TEE", "AMS", "BER", 6), state, known())
    assert isinstance(moved, StockTransferred) and moved.quantity == 6


def test_low_stock_is_raised_when_crossed_and_rearmed_on_recovery() -> None:
    state = given(TEE, received("AMS", 10))
    events = stock.set_threshold(SetLowStockThreshold("TEE", "AMS", 5), state, known())
    assert events == [LowStockThresholdSet(sku="TEE", warehouse_id="AMS", threshold=5)]
    state = given(TEE, received("AMS", 10), *events)
    # 10 -> 6 available: still at or above 5, no alert.
    assert stock.with_low_stock_checks(state, [allocated("AMS", 4)]) == [allocated("AMS", 4)]
    # 10 -> 4: crossed.
    low = LowStockDetected(sku="TEE", warehouse_id="AMS", available=4, threshold=5)
    assert stock.with_low_stock_checks(state, [allocated("AMS", 6)])[-1] == low
    flagged = given(TEE, received("AMS", 10), *events, allocated("AMS", 6), low)
    assert stock.with_low_stock_checks(flagged, [allocated("AMS", 1, "ord-2")]) == [
        allocated("AMS", 1, "ord-2")
    ]
    # A receipt brings it back above the threshold; the next fall alerts again.
    recovered = given(
        TEE, received("AMS", 10), *events, allocated("AMS", 6), low, received("AMS", 3)
    )
    assert not recovered.level("AMS").low
    assert stock.with_low_stock_checks(recovered, [allocated("AMS", 3, "ord-3")])[-1] == (
        LowStockDetected(sku="TEE", warehouse_id="AMS", available=4, threshold=5)
    )


def test_threshold_above_current_stock_alerts_at_once() -> None:
    state = given(TEE, received("AMS", 3))
    events = stock.set_threshold(SetLowStockThreshold("TEE", "AMS", 5), state, known())
    assert [type(e) for e in events] == [LowStockThresholdSet, LowStockDetected]


def test_warehouse_registration_is_idempotent_and_changes_need_replace() -> None:
    cmd = RegisterWarehouse("AMS", "AMS", "NL", 1, True)
    assert warehouses.decide(cmd, known()) == []
    with pytest.raises(Conflict, match="already registered"):
        warehouses.decide(RegisterWarehouse("AMS", "AMS", "NL", 1, False), known())
    [closed] = warehouses.decide(RegisterWarehouse("AMS", "AMS", "NL", 1, False, True), known())
    assert not warehouses.evolve(known(), closed).get("AMS").active
