"""Stock of one SKU and the warehouses: given events, when a command, then events."""

from __future__ import annotations

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
from oms_events.limits import MAX_STOCK_LEVEL
from oms_inventory.domain.commands import (
    AdjustStock,
    ChangeSku,
    ChangeWarehouse,
    ReceiveStock,
    RegisterSku,
    RegisterWarehouse,
    SetLowStockThreshold,
    TransferStock,
)
from oms_inventory.domain.stock import SKU_STOCK
from oms_inventory.domain.warehouses import WAREHOUSES
from oms_platform.testing.decider_spec import DeciderSpec

from .conftest import AMS, BER, TEE

stock = DeciderSpec(SKU_STOCK)
warehouses = DeciderSpec(WAREHOUSES)


def received(wh: str, q: int, ref: str | None = None) -> StockReceived:
    return StockReceived(sku="TEE", warehouse_id=wh, quantity=q, reference=ref)


def allocated(wh: str, q: int, order: str = "ord-1") -> StockAllocated:
    a = Allocation(line_id="1", sku="TEE", warehouse_id=wh, quantity=q)
    return StockAllocated(
        order_id=order, reservation_id=f"res-{order}", sku="TEE", allocations=(a,)
    )


def low(wh: str, available: int, threshold: int) -> LowStockDetected:
    return LowStockDetected(sku="TEE", warehouse_id=wh, available=available, threshold=threshold)


def test_levels_follow_every_kind_of_movement() -> None:
    a = Allocation(line_id="1", sku="TEE", warehouse_id="AMS", quantity=2)
    state = stock.given(
        AMS,
        BER,
        TEE,
        received("AMS", 10),
        StockTransferred(sku="TEE", from_warehouse_id="AMS", to_warehouse_id="BER", quantity=3),
        allocated("AMS", 4),
        StockDeallocated(order_id="ord-1", reservation_id="r", sku="TEE", allocations=(a,)),
        StockIssued(order_id="ord-1", shipment_id="s", sku="TEE", warehouse_id="AMS", quantity=2),
        StockAdjusted(sku="TEE", warehouse_id="BER", delta=-1, counted_quantity=2, reason="count"),
    ).state
    ams, ber = state.stock.level("AMS"), state.stock.level("BER")
    assert (ams.on_hand, ams.reserved, ams.available) == (5, 0, 5)
    assert (ber.on_hand, ber.reserved, ber.available) == (2, 0, 2)
    assert sorted(state.warehouses.by_code) == ["AMS", "BER"]


def test_registering_a_sku_once_then_the_same_again_is_a_no_op() -> None:
    register = RegisterSku("TEE", "Tee", 180, 300, 250, 20)
    stock.given().when(register).then(TEE)
    stock.given(TEE).when(register).then_nothing()


def test_other_details_for_a_registered_sku_need_a_change() -> None:
    heavier = SkuRegistered(**{**TEE.model_dump(), "weight_grams": 200})
    stock.given(TEE).when(RegisterSku("TEE", "Tee", 200, 300, 250, 20)).then_refused(
        "sku_exists", status=409
    )
    stock.given(TEE).when(ChangeSku("TEE", "Tee", 200, 300, 250, 20)).then(heavier)
    stock.given().when(ChangeSku("TEE", "Tee", 200, 300, 250, 20)).then_refused(
        "sku_not_found", status=404
    )


def test_receipts_need_a_known_sku_and_warehouse() -> None:
    stock.given(AMS).when(ReceiveStock("TEE", "AMS", 5)).then_refused("sku_not_found", status=404)
    refusal = (
        stock.given(AMS, TEE)
        .when(ReceiveStock("TEE", "OSL", 5))
        .then_refused("warehouse_not_found", status=404)
    )
    assert refusal.field == "warehouse"


def test_a_receipt_reference_is_booked_once_per_warehouse() -> None:
    cmd = ReceiveStock("TEE", "AMS", 5, "PO-1")
    stock.given(AMS, BER, TEE).when(cmd).then(received("AMS", 5, "PO-1"))
    stock.given(AMS, BER, TEE, received("AMS", 5, "PO-1")).when(cmd).then_nothing()
    # The same reference at another warehouse is another delivery.
    stock.given(AMS, BER, TEE, received("AMS", 5, "PO-1")).when(
        ReceiveStock("TEE", "BER", 5, "PO-1")
    ).then(received("BER", 5, "PO-1"))


def test_no_warehouse_holds_more_than_the_stock_level_bound() -> None:
    full = received("AMS", MAX_STOCK_LEVEL)
    stock.given(AMS, BER, TEE, full).when(ReceiveStock("TEE", "AMS", 1)).then_refused(
        "stock_level_exceeded", status=409
    )
    stock.given(AMS, BER, TEE, full, received("BER", 1)).when(
        TransferStock("TEE", "BER", "AMS", 1)
    ).then_refused("stock_level_exceeded")


def test_count_sets_on_hand_but_not_below_what_is_reserved() -> None:
    given = stock.given(AMS, BER, TEE, received("AMS", 10), allocated("AMS", 4))
    given.when(AdjustStock("TEE", "AMS", 6, "cycle count")).then(
        StockAdjusted(
            sku="TEE", warehouse_id="AMS", delta=-4, counted_quantity=6, reason="cycle count"
        )
    )
    refusal = given.when(AdjustStock("TEE", "AMS", 3, "count")).then_refused(
        "count_below_reserved", status=409
    )
    assert "4 units of TEE are reserved" in refusal.reason
    assert refusal.field == "counted_quantity"


def test_transfer_moves_only_available_units_between_two_warehouses() -> None:
    given = stock.given(AMS, BER, TEE, received("AMS", 10), allocated("AMS", 4))
    refusal = given.when(TransferStock("TEE", "AMS", "BER", 7)).then_refused(
        "insufficient_stock", status=409
    )
    assert "only 6 units" in refusal.reason
    given.when(TransferStock("TEE", "AMS", "BER", 6)).then(
        StockTransferred(sku="TEE", from_warehouse_id="AMS", to_warehouse_id="BER", quantity=6)
    )
    given.when(TransferStock("TEE", "AMS", "AMS", 1)).then_refused("same_warehouse", status=422)
    given.when(TransferStock("TEE", "AMS", "OSL", 1)).then_refused("warehouse_not_found")


def test_low_stock_is_raised_when_crossed_and_once() -> None:
    threshold = LowStockThresholdSet(sku="TEE", warehouse_id="AMS", threshold=5)
    given = stock.given(AMS, TEE, received("AMS", 10))
    given.when(SetLowStockThreshold("TEE", "AMS", 5)).then(threshold)
    # 10 -> 6 available: still at or above 5, no alert.
    stock.given(AMS, TEE, received("AMS", 10), threshold).when(
        AdjustStock("TEE", "AMS", 6, "count")
    ).then(
        StockAdjusted(sku="TEE", warehouse_id="AMS", delta=-4, counted_quantity=6, reason="count")
    )
    # 10 -> 4: crossed.
    stock.given(AMS, TEE, received("AMS", 10), threshold).when(
        AdjustStock("TEE", "AMS", 4, "count")
    ).then(
        StockAdjusted(sku="TEE", warehouse_id="AMS", delta=-6, counted_quantity=4, reason="count"),
        low("AMS", 4, 5),
    )
    # Already flagged: a further fall raises nothing.
    stock.given(
        AMS, TEE, received("AMS", 10), threshold, allocated("AMS", 6), low("AMS", 4, 5)
    ).when(AdjustStock("TEE", "AMS", 9, "count")).then(
        StockAdjusted(sku="TEE", warehouse_id="AMS", delta=-1, counted_quantity=9, reason="count")
    )


def test_low_stock_rearms_once_available_recovers() -> None:
    threshold = LowStockThresholdSet(sku="TEE", warehouse_id="AMS", threshold=5)
    flagged = (AMS, TEE, received("AMS", 10), threshold, allocated("AMS", 6), low("AMS", 4, 5))
    recovered = stock.given(*flagged, received("AMS", 3))
    assert not recovered.state.stock.level("AMS").low
    stock.given(BER, *flagged, received("AMS", 3)).when(TransferStock("TEE", "AMS", "BER", 3)).then(
        StockTransferred(sku="TEE", from_warehouse_id="AMS", to_warehouse_id="BER", quantity=3),
        low("AMS", 4, 5),
    )


def test_threshold_above_current_stock_alerts_at_once_and_the_same_again_is_a_no_op() -> None:
    threshold = LowStockThresholdSet(sku="TEE", warehouse_id="AMS", threshold=5)
    given = stock.given(AMS, TEE, received("AMS", 3))
    given.when(SetLowStockThreshold("TEE", "AMS", 5)).then(threshold, low("AMS", 3, 5))
    stock.given(AMS, TEE, received("AMS", 3), threshold).when(
        SetLowStockThreshold("TEE", "AMS", 5)
    ).then_nothing()


def test_warehouse_registration_is_idempotent_and_changes_need_a_change() -> None:
    closed = WarehouseRegistered(**{**AMS.model_dump(), "active": False})
    warehouses.given(AMS).when(RegisterWarehouse("AMS", "AMS DC", "NL", 1, True)).then_nothing()
    warehouses.given(AMS).when(RegisterWarehouse("AMS", "AMS DC", "NL", 1, False)).then_refused(
        "warehouse_exists", status=409
    )
    warehouses.given(AMS).when(ChangeWarehouse("AMS", "AMS DC", "NL", 1, False)).then(closed)
    warehouses.given().when(ChangeWarehouse("AMS", "AMS DC", "NL", 1, False)).then_refused(
        "warehouse_not_found", status=404
    )
    assert not warehouses.given(AMS, closed).state.get("AMS").active
