"""Short picks and returns by condition: given events, when a command, then events; and the
same through the routing table on the in-memory store.

Units a warehouse could not find are booked lost there (on hand down) and leave the
order's reservation, so a later release or shipment does not count them.
"""

from __future__ import annotations

from oms_events.base import Event
from oms_events.contracts import (
    Allocation,
    ItemCondition,
    ReturnedLine,
    ShipmentDispatched,
    SkuQuantity,
    StockDeallocated,
    StockReceived,
    StockReleased,
    StockWrittenOff,
)
from oms_events.contracts.fulfilment import ShortPicked
from oms_events.contracts.inventory import StockLost, StockWrittenDown
from oms_events.contracts.shipping import ShipmentReturnedToSender
from oms_events.examples import example
from oms_events.topics import FULFILMENT_EVENTS, topic_for
from oms_inventory.consumers import CONSUMERS
from oms_inventory.domain.commands import (
    BookReturn,
    BookShortPick,
    ReleaseStock,
    RestockReturnedShipment,
    ShipStock,
)
from oms_inventory.domain.returns import RETURN_BOOKING
from oms_inventory.projections.stock_levels import LevelChange, changes
from oms_inventory.streams import reservation_stream
from oms_platform.testing.decider_spec import DeciderSpec

from .conftest import NOW, World
from .test_consumers import deliver, placed
from .test_reservation_decider import STOCKED, reservations, reserve


def dispatched(order_id: str, shipment_id: str, *lines: tuple[str, int]) -> ShipmentDispatched:
    return example(ShipmentDispatched).model_copy(
        update={
            "order_id": order_id,
            "shipment_id": shipment_id,
            "warehouse_id": "AMS",
            "lines": tuple(SkuQuantity(sku=s, quantity=q) for s, q in lines),
        }
    )


def short(fulfilment: str, *missing: tuple[str, int], warehouse: str = "AMS") -> BookShortPick:
    return BookShortPick("ord-1", fulfilment, warehouse, missing)


def held(*lines: tuple[str, int]) -> list[Event]:
    return reservations.given(*STOCKED).when(reserve(*lines)).then_matches(bool)


def written_down(q: int, reserved: int, fulfilment: str = "ful-1") -> StockWrittenDown:
    return StockWrittenDown(
        order_id="ord-1",
        fulfilment_id=fulfilment,
        sku="TEE",
        warehouse_id="AMS",
        quantity=q,
        reserved=reserved,
        reason=f"short pick: not found at AMS (fulfilment {fulfilment})",
    )


def test_missing_units_are_booked_lost_and_leave_the_reservation() -> None:
    # 5 TEE on hand in AMS, 3 reserved for the order; 1 is not found.
    given = [*STOCKED, *held(("TEE", 3))]
    reservations.given(*given).when(short("ful-1", ("TEE", 1))).then(
        StockLost(
            order_id="ord-1",
            fulfilment_id="ful-1",
            warehouse_id="AMS",
            lines=(SkuQuantity(sku="TEE", quantity=1),),
            unreserved=(SkuQuantity(sku="TEE", quantity=1),),
        ),
        written_down(1, reserved=1),
    )
    after = reservations.given(*given).when(short("ful-1", ("TEE", 1))).state_after()
    level = after.stocks["TEE"].level("AMS")
    assert (level.on_hand, level.reserved, level.available) == (4, 2, 2)
    assert [(a.sku, a.quantity) for a in after.reservation.outstanding()] == [("TEE", 2)]


def test_a_short_pick_is_booked_once_per_fulfilment() -> None:
    given = [*STOCKED, *held(("TEE", 3))]
    booked = reservations.given(*given).when(short("ful-1", ("TEE", 1))).then_matches(bool)
    reservations.given(*given, *booked).when(short("ful-1", ("TEE", 1))).then_nothing()


def test_a_later_release_gives_back_only_what_is_still_held() -> None:
    given = [*STOCKED, *held(("TEE", 3))]
    booked = reservations.given(*given).when(short("ful-1", ("TEE", 1))).then_matches(bool)
    left = Allocation(line_id="1", sku="TEE", warehouse_id="AMS", quantity=2)
    reservations.given(*given, *booked).when(ReleaseStock("ord-1", "cancelled")).then(
        StockReleased(order_id="ord-1", reservation_id="res-ord-1", allocations=(left,)),
        StockDeallocated(
            order_id="ord-1", reservation_id="res-ord-1", sku="TEE", allocations=(left,)
        ),
    )


def test_a_later_shipment_ships_only_what_is_still_held() -> None:
    given = [*STOCKED, *held(("TEE", 3))]
    given += reservations.given(*given).when(short("ful-1", ("TEE", 1))).then_matches(bool)
    reservations.given(*given).when(ShipStock("ord-1", "shp-1", "AMS", (("TEE", 3),))).then_refused(
        "shipment_exceeds_reservation"
    )
    after = (
        reservations.given(*given)
        .when(ShipStock("ord-1", "shp-1", "AMS", (("TEE", 2),)))
        .state_after()
    )
    assert after.reservation.status == "shipped"
    level = after.stocks["TEE"].level("AMS")
    assert (level.on_hand, level.reserved) == (2, 0)  # 5 - 2 shipped - 1 lost


def test_a_short_pick_after_the_dispatch_takes_what_is_left() -> None:
    given = [*STOCKED, *held(("TEE", 3))]
    given += (
        reservations.given(*given)
        .when(ShipStock("ord-1", "shp-1", "AMS", (("TEE", 2),)))
        .then_matches(bool)
    )
    after = reservations.given(*given).when(short("ful-1", ("TEE", 1))).state_after()
    assert after.reservation.status == "shipped"
    level = after.stocks["TEE"].level("AMS")
    assert (level.on_hand, level.reserved) == (2, 0)


def test_after_a_release_the_missing_units_still_leave_the_shelf() -> None:
    given = [*STOCKED, *held(("TEE", 3))]
    given += reservations.given(*given).when(ReleaseStock("ord-1", "x")).then_matches(bool)
    events = reservations.given(*given).when(short("ful-1", ("TEE", 1))).then_matches(bool)
    assert events[0] == StockLost(
        order_id="ord-1",
        fulfilment_id="ful-1",
        warehouse_id="AMS",
        lines=(SkuQuantity(sku="TEE", quantity=1),),
    )
    assert events[1] == written_down(1, reserved=0)


def test_never_more_than_is_on_hand_is_booked_lost() -> None:
    given = [*STOCKED, *held(("TEE", 3))]
    events = reservations.given(*given).when(short("ful-1", ("TEE", 9))).then_matches(bool)
    assert events[1] == written_down(5, reserved=3)


def test_a_short_pick_of_an_order_that_holds_nothing_is_refused() -> None:
    reservations.given(*STOCKED).when(short("ful-1", ("TEE", 1))).then_refused("no_reservation")


# -- returns by condition ----------------------------------------------------------------


def test_damaged_and_defective_returns_are_written_off_and_change_no_level() -> None:
    # Missing units do not appear in a receipt's lines (returns implies them): nothing.
    damaged = ReturnedLine(sku="TEE", quantity=1, condition=ItemCondition.DAMAGED)
    defective = ReturnedLine(sku="MUG", quantity=2, condition=ItemCondition.DEFECTIVE)
    cmd = BookReturn("ret-1", "ord-1", "AMS", (damaged, defective))
    DeciderSpec(RETURN_BOOKING).given().when(cmd).then(
        StockWrittenOff(
            return_id="ret-1", order_id="ord-1", warehouse_id="AMS", lines=(damaged, defective)
        )
    )


# -- through the routing table -----------------------------------------------------------


def test_short_picks_have_a_consumer_of_their_own_on_the_fulfilment_topic() -> None:
    assert CONSUMERS["fulfilments"] == (ShortPicked,)
    assert topic_for(ShortPicked.event_type) == FULFILMENT_EVENTS


async def test_a_short_pick_delivered_twice_books_the_loss_once(world: World) -> None:
    await world.sku("TEE", AMS=5)
    await deliver(world, placed("ord-1", "TEE", 3))
    picked = ShortPicked(
        fulfilment_id="ful-1",
        order_id="ord-1",
        warehouse_id="AMS",
        missing=(SkuQuantity(sku="TEE", quantity=1),),
    )
    assert [type(e) for e in await deliver(world, picked)] == [StockLost, StockWrittenDown]
    assert await deliver(world, picked) == []
    state, _ = await world.inventory.load_stock(world.store, "TEE")
    level = state.level("AMS")
    assert (level.on_hand, level.reserved) == (4, 2)
    assert "StockLost" in [
        type(e).__name__ for e in await world.stream(reservation_stream("ord-1"))
    ]


def test_the_stock_levels_read_model_books_the_loss() -> None:
    assert changes(written_down(2, reserved=1)) == [
        LevelChange("TEE", "AMS", on_hand=-2, reserved=-1)
    ]


# -- parcels returned to sender ----------------------------------------------------------


def test_a_parcel_returned_to_sender_goes_back_on_the_shelf_once() -> None:
    given = [*STOCKED, *held(("TEE", 3))]
    given += (
        reservations.given(*given)
        .when(ShipStock("ord-1", "shp-1", "AMS", (("TEE", 2),)))
        .then_matches(bool)
    )
    back = RestockReturnedShipment("ord-1", "shp-1")
    restocked = (
        reservations.given(*given)
        .when(back)
        .then(
            StockReceived(
                sku="TEE", warehouse_id="AMS", quantity=2, reference="returned-to-sender:shp-1"
            )
        )
    )
    after = reservations.given(*given, *restocked).state
    level = after.stocks["TEE"].level("AMS")
    assert (level.on_hand, level.reserved) == (5, 1)  # 5 - 2 shipped + 2 back; 1 still held
    reservations.given(*given, *restocked).when(back).then_nothing()


def test_a_parcel_returned_before_its_dispatch_was_booked_is_refused() -> None:
    given = [*STOCKED, *held(("TEE", 3))]
    reservations.given(*given).when(RestockReturnedShipment("ord-1", "shp-9")).then_refused(
        "shipment_not_shipped"
    )


async def test_a_returned_parcel_is_routed_after_its_dispatch(world: World) -> None:
    assert ShipmentReturnedToSender in CONSUMERS["shipments"]
    await world.sku("TEE", AMS=5)
    await deliver(world, placed("ord-1", "TEE", 2))
    await deliver(world, dispatched("ord-1", "shp-1", ("TEE", 2)))
    returned = ShipmentReturnedToSender(
        shipment_id="shp-1",
        order_id="ord-1",
        carrier="postnl",
        tracking_number="3SABC",
        update_id="u-1",
        reported_at=NOW,
        reason="address unknown",
    )
    assert [type(e) for e in await deliver(world, returned)] == [StockReceived]
    assert await deliver(world, returned) == []
    assert await world.available("TEE") == {"AMS": 5}
