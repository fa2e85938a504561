"""An order's reservation and a return: given events, when a command, then events.

The reservation decider decides on the reservation, the warehouses and the stock of each
SKU at once, and returns the reservation's events and the per-SKU events in one list.
"""

from __future__ import annotations

from oms_events.base import Event
from oms_events.contracts import (
    Allocation,
    AllocationStrategy,
    ItemCondition,
    LowStockDetected,
    LowStockThresholdSet,
    ReturnedLine,
    Shortage,
    SkuQuantity,
    SkuRegistered,
    StockAllocated,
    StockDeallocated,
    StockIssued,
    StockReceived,
    StockReleased,
    StockReservationCancelled,
    StockReservationFailed,
    StockReserved,
    StockRestocked,
    StockShipped,
    StockWrittenOff,
)
from oms_inventory.domain.allocation import LineRequest
from oms_inventory.domain.commands import BookReturn, ReleaseStock, ReserveStock, ShipStock
from oms_inventory.domain.reservation import RESERVATION
from oms_inventory.domain.returns import RETURN_BOOKING
from oms_platform.testing.decider_spec import DeciderSpec

from .conftest import AMS, BER, TEE

reservations = DeciderSpec(RESERVATION)
MUG = SkuRegistered(
    sku="MUG", name="Mug", weight_grams=300, length_mm=90, width_mm=90, height_mm=95
)


def received(sku: str, wh: str, q: int) -> StockReceived:
    return StockReceived(sku=sku, warehouse_id=wh, quantity=q)


def reserve(*lines: tuple[str, int], order: str = "ord-1") -> ReserveStock:
    requests = tuple(LineRequest(str(i), sku, q) for i, (sku, q) in enumerate(lines, 1))
    return ReserveStock(order, requests, "NL", AllocationStrategy.NEAREST)


STOCKED = (AMS, BER, TEE, MUG, received("TEE", "AMS", 5), received("MUG", "BER", 2))


def test_a_reservation_decides_the_order_and_each_skus_stock_in_one_list() -> None:
    events = (
        reservations.given(*STOCKED)
        .when(reserve(("TEE", 2), ("MUG", 1)))
        .then_matches(
            lambda es: [type(e) for e in es] == [StockReserved, StockAllocated, StockAllocated]
        )
    )
    reserved, tee, mug = events
    assert isinstance(reserved, StockReserved)
    assert isinstance(tee, StockAllocated) and isinstance(mug, StockAllocated)
    assert {(a.sku, a.warehouse_id, a.quantity) for a in reserved.allocations} == {
        ("TEE", "AMS", 2),
        ("MUG", "BER", 1),
    }
    assert (tee.sku, mug.sku) == ("TEE", "MUG")
    assert tee.allocations == tuple(a for a in reserved.allocations if a.sku == "TEE")


def test_the_stock_moves_with_the_decided_events() -> None:
    after = reservations.given(*STOCKED).when(reserve(("TEE", 2))).state_after()
    assert after.stocks["TEE"].available() == {"AMS": 3}
    assert after.reservation.status == "reserved"


def test_an_order_is_decided_once() -> None:
    decided = reservations.given(*STOCKED).when(reserve(("TEE", 2))).then_matches(bool)
    reservations.given(*STOCKED, *decided).when(reserve(("TEE", 2))).then_nothing()


def test_a_shortage_fails_the_whole_order_and_reserves_nothing() -> None:
    events = (
        reservations.given(*STOCKED)
        .when(reserve(("TEE", 9), ("CAP", 1)))
        .then_matches(lambda es: len(es) == 1)
    )
    [failed] = events
    assert isinstance(failed, StockReservationFailed)
    assert set(failed.shortages) == {
        Shortage(sku="TEE", requested=9, available=5),
        Shortage(sku="CAP", requested=1, available=0),
    }
    assert failed.reason and "not registered: CAP" in failed.reason


def test_a_reservation_below_the_threshold_raises_low_stock_for_that_sku() -> None:
    threshold = LowStockThresholdSet(sku="TEE", warehouse_id="AMS", threshold=4)
    events = reservations.given(*STOCKED, threshold).when(reserve(("TEE", 2))).then_matches(bool)
    assert [type(e) for e in events] == [StockReserved, StockAllocated, LowStockDetected]
    assert events[-1] == LowStockDetected(sku="TEE", warehouse_id="AMS", available=3, threshold=4)


def test_a_cancellation_before_the_reservation_blocks_it() -> None:
    release = ReleaseStock("ord-1", "order cancelled")
    cancelled = StockReservationCancelled(order_id="ord-1", reason="order cancelled")
    reservations.given(*STOCKED).when(release).then(cancelled)
    reservations.given(*STOCKED, cancelled).when(reserve(("TEE", 1))).then_nothing()
    reservations.given(*STOCKED, cancelled).when(release).then_nothing()


def _reserved(*lines: tuple[str, int]) -> list[Event]:
    return reservations.given(*STOCKED).when(reserve(*lines)).then_matches(bool)


def test_release_gives_back_what_is_not_shipped() -> None:
    held = _reserved(("TEE", 2), ("MUG", 1))
    shipped = (
        reservations.given(*STOCKED, *held)
        .when(ShipStock("ord-1", "shp-1", "AMS", (("TEE", 2),)))
        .then_matches(bool)
    )
    left = Allocation(line_id="2", sku="MUG", warehouse_id="BER", quantity=1)
    reservations.given(*STOCKED, *held, *shipped).when(ReleaseStock("ord-1", "cancelled")).then(
        StockReleased(order_id="ord-1", reservation_id="res-ord-1", allocations=(left,)),
        StockDeallocated(
            order_id="ord-1", reservation_id="res-ord-1", sku="MUG", allocations=(left,)
        ),
    )


def test_a_shipment_books_reserved_units_out_once() -> None:
    held = _reserved(("TEE", 2))
    ship = ShipStock("ord-1", "shp-1", "AMS", (("TEE", 2),))
    shipped = (
        reservations.given(*STOCKED, *held)
        .when(ship)
        .then(
            StockShipped(
                order_id="ord-1",
                shipment_id="shp-1",
                warehouse_id="AMS",
                lines=(SkuQuantity(sku="TEE", quantity=2),),
            ),
            StockIssued(
                order_id="ord-1", shipment_id="shp-1", sku="TEE", warehouse_id="AMS", quantity=2
            ),
        )
    )
    reservations.given(*STOCKED, *held, *shipped).when(ship).then_nothing()
    again = ShipStock("ord-1", "shp-2", "AMS", (("TEE", 1),))
    reservations.given(*STOCKED, *held, *shipped).when(again).then_refused("no_open_reservation")


def test_a_shipment_never_goes_beyond_the_reservation() -> None:
    held = _reserved(("TEE", 1))
    refusal = (
        reservations.given(*STOCKED, *held)
        .when(ShipStock("ord-1", "shp-1", "AMS", (("TEE", 2),)))
        .then_refused("shipment_exceeds_reservation", status=409)
    )
    assert "holds 1 reserved" in refusal.reason
    reservations.given(*STOCKED).when(
        ShipStock("ord-1", "shp-1", "AMS", (("TEE", 1),))
    ).then_refused("no_open_reservation")


def test_a_return_restocks_resellable_units_and_writes_off_the_rest_once() -> None:
    tee = ReturnedLine(sku="TEE", quantity=2, condition=ItemCondition.RESELLABLE)
    mug = ReturnedLine(sku="MUG", quantity=1, condition=ItemCondition.DAMAGED)
    cmd = BookReturn("ret-1", "ord-1", "AMS", (tee, mug))
    booked = (
        DeciderSpec(RETURN_BOOKING)
        .given()
        .when(cmd)
        .then(
            StockRestocked(
                return_id="ret-1",
                order_id="ord-1",
                warehouse_id="AMS",
                lines=(SkuQuantity(sku="TEE", quantity=2),),
            ),
            StockWrittenOff(return_id="ret-1", order_id="ord-1", warehouse_id="AMS", lines=(mug,)),
            StockReceived(sku="TEE", warehouse_id="AMS", quantity=2, reference="return:ret-1"),
        )
    )
    DeciderSpec(RETURN_BOOKING).given(*booked).when(cmd).then_nothing()
