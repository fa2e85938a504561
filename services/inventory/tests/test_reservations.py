"""Reserve, release, ship and return through the handlers, on the in-memory store: which
streams the decided events land on, and that concurrent reservations never oversell."""

from __future__ import annotations

import asyncio

import pytest

from oms_events.contracts import (
    AllocationStrategy,
    ItemCondition,
    LowStockDetected,
    ReturnedLine,
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
from oms_inventory.domain.commands import BookReturn, ReleaseStock, SetLowStockThreshold, ShipStock
from oms_inventory.domain.reservation import ReservationStatus
from oms_inventory.handlers import Cause
from oms_platform.refusal import Refusal

from .conftest import World


async def test_reservation_appends_to_the_order_and_each_sku_stream(world: World) -> None:
    await world.sku("TEE", AMS=5, BER=5)
    await world.sku("MUG", BER=2)
    events = await world.reserve("ord-1", ("TEE", 2), ("MUG", 1), country="NL")
    [reserved] = await world.stream("reservation-ord-1")
    assert isinstance(reserved, StockReserved)
    # AMS is nearest but has no mug: one parcel from BER beats a split.
    assert {(a.line_id, a.warehouse_id, a.quantity) for a in reserved.allocations} == {
        ("1", "BER", 2),
        ("2", "BER", 1),
    }
    assert reserved.strategy is AllocationStrategy.NEAREST
    assert "AMS has 0 of 1 MUG" in reserved.reasoning
    assert [d.line_id for d in reserved.decisions] == ["1", "2"]
    assert isinstance((await world.stream("stock-TEE"))[-1], StockAllocated)
    assert isinstance((await world.stream("stock-MUG"))[-1], StockAllocated)
    assert await world.available("TEE") == {"AMS": 5, "BER": 3}
    assert await world.available("MUG") == {"BER": 1}
    assert len(events) == 3


async def test_an_order_is_decided_once(world: World) -> None:
    await world.sku("TEE", AMS=5)
    await world.reserve("ord-1", ("TEE", 2))
    assert await world.reserve("ord-1", ("TEE", 2)) == []
    assert await world.available("TEE") == {"AMS": 3}


async def test_shortage_fails_with_the_reason_and_reserves_nothing(world: World) -> None:
    await world.sku("TEE", AMS=1, BER=1)
    await world.reserve("ord-1", ("TEE", 3), ("CAP", 1))
    [failed] = await world.stream("reservation-ord-1")
    assert isinstance(failed, StockReservationFailed)
    assert {(s.sku, s.requested, s.available) for s in failed.shortages} == {
        ("CAP", 1, 0),
        ("TEE", 3, 2),
    }
    assert failed.reason and "CAP" in failed.reason
    assert await world.available("TEE") == {"AMS": 1, "BER": 1}


async def test_concurrent_reservations_never_oversell(world: World) -> None:
    await world.sku("TEE", AMS=7, BER=8, MAD=5)
    results = await asyncio.gather(*(world.reserve(f"ord-{i}", ("TEE", 1)) for i in range(50)))
    outcomes = [type(events[0]).__name__ for events in results]
    assert outcomes.count("StockReserved") == 20
    assert outcomes.count("StockReservationFailed") == 30
    assert await world.available("TEE") == {"AMS": 0, "BER": 0, "MAD": 0}


async def test_release_gives_back_what_is_not_shipped(world: World) -> None:
    await world.sku("TEE", AMS=2, BER=3)
    await world.reserve("ord-1", ("TEE", 4), strategy=AllocationStrategy.BY_PRIORITY)
    ship = ShipStock("ord-1", "shp-1", "AMS", (("TEE", 2),))
    await world.run(lambda uow: world.inventory.ship_stock(uow, ship, Cause("ord-1")))
    release = ReleaseStock("ord-1", "customer_request")
    await world.run(lambda uow: world.inventory.release_stock(uow, release, Cause("ord-1")))
    *_, shipped, released = await world.stream("reservation-ord-1")
    assert isinstance(shipped, StockShipped) and isinstance(released, StockReleased)
    assert [(a.warehouse_id, a.quantity) for a in released.allocations] == [("BER", 2)]
    tee = await world.stream("stock-TEE")
    assert [type(e) for e in tee[-2:]] == [StockIssued, StockDeallocated]
    state, _ = await world.inventory.load_stock(world.store, "TEE")
    assert (state.level("AMS").on_hand, state.level("AMS").reserved) == (0, 0)
    assert (state.level("BER").on_hand, state.level("BER").reserved) == (3, 0)
    # Releasing again changes nothing.
    again = await world.run(lambda uow: world.inventory.release_stock(uow, release, Cause("x")))
    assert again == []


async def test_cancellation_before_reservation_blocks_it(world: World) -> None:
    await world.sku("TEE", AMS=5)
    release = ReleaseStock("ord-1", "order cancelled (payment_declined, by system)")
    await world.run(lambda uow: world.inventory.release_stock(uow, release, Cause("ord-1")))
    assert await world.reserve("ord-1", ("TEE", 1)) == []
    [cancelled] = await world.stream("reservation-ord-1")
    assert isinstance(cancelled, StockReservationCancelled)
    assert await world.available("TEE") == {"AMS": 5}


async def test_shipment_is_booked_once_and_never_beyond_the_reservation(world: World) -> None:
    await world.sku("TEE", AMS=5)
    await world.reserve("ord-1", ("TEE", 2))
    ship = ShipStock("ord-1", "shp-1", "AMS", (("TEE", 2),))
    await world.run(lambda uow: world.inventory.ship_stock(uow, ship, Cause("ord-1")))
    assert await world.run(lambda uow: world.inventory.ship_stock(uow, ship, Cause("o"))) == []
    state, _ = await world.inventory.load_reservation(world.store, "ord-1")
    assert state.status is ReservationStatus.SHIPPED
    more = ShipStock("ord-1", "shp-2", "AMS", (("TEE", 1),))
    with pytest.raises(Refusal, match="no open reservation"):
        await world.run(lambda uow: world.inventory.ship_stock(uow, more, Cause("ord-1")))
    await world.reserve("ord-2", ("TEE", 1))
    wrong = ShipStock("ord-2", "shp-3", "AMS", (("TEE", 2),))
    with pytest.raises(Refusal, match="holds 1 reserved"):
        await world.run(lambda uow: world.inventory.ship_stock(uow, wrong, Cause("ord-2")))


async def test_reservation_crossing_the_threshold_raises_low_stock_once(world: World) -> None:
    await world.sku("TEE", AMS=10)
    cmd = SetLowStockThreshold("TEE", "AMS", 5)
    await world.run(lambda uow: world.inventory.change_stock(uow, cmd, Cause("TEE")))
    await world.reserve("ord-1", ("TEE", 5))
    assert not any(isinstance(e, LowStockDetected) for e in await world.stream("stock-TEE"))
    events = await world.reserve("ord-2", ("TEE", 1))
    [low] = [e for e in events if isinstance(e, LowStockDetected)]
    assert (low.available, low.threshold) == (4, 5)
    events = await world.reserve("ord-3", ("TEE", 1))
    assert not any(isinstance(e, LowStockDetected) for e in events)


async def test_returns_restock_resellable_units_once_and_write_off_the_rest(world: World) -> None:
    await world.sku("TEE", AMS=5)
    await world.sku("MUG", AMS=5)
    lines = (
        ReturnedLine(sku="TEE", quantity=2, condition=ItemCondition.RESELLABLE),
        ReturnedLine(sku="MUG", quantity=1, condition=ItemCondition.DAMAGED),
    )
    cmd = BookReturn("ret-1", "ord-1", "AMS", lines)
    events = await world.run(lambda uow: world.inventory.book_return(uow, cmd, Cause("ord-1")))
    assert [type(e) for e in events] == [StockRestocked, StockWrittenOff, StockReceived]
    assert await world.run(lambda uow: world.inventory.book_return(uow, cmd, Cause("x"))) == []
    assert await world.available("TEE") == {"AMS": 7}
    assert await world.available("MUG") == {"AMS": 5}
