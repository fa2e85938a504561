"""The routing table: every consumed event class has one route, and the routes drive the
handlers on the in-memory store as the consumer runtime would."""

from __future__ import annotations

import pytest

from oms_events.base import Event
from oms_events.contracts import (
    Address,
    CancellationReason,
    CancelledBy,
    OrderCancelled,
    OrderLine,
    OrderPlaced,
    ShipmentDispatched,
    SkuQuantity,
    StockReleased,
    StockReserved,
)
from oms_events.examples import eur, example
from oms_events.registry import envelope_for
from oms_events.topics import ORDER_EVENTS, topic_for
from oms_inventory.consumers import CONSUMERS, ROUTES
from oms_platform.failures import FailureClass, classify
from oms_platform.refusal import Refusal

from .conftest import World


def test_every_route_belongs_to_exactly_one_consumer() -> None:
    grouped = [cls for classes in CONSUMERS.values() for cls in classes]
    assert sorted(c.event_type for c in grouped) == sorted(c.event_type for c in ROUTES)
    # Placement and cancellation of one order are handled in order: one consumer, one topic.
    assert {OrderPlaced, OrderCancelled} <= set(CONSUMERS["orders"])
    assert {topic_for(c.event_type) for c in CONSUMERS["orders"]} == {ORDER_EVENTS}


async def deliver(world: World, event: Event) -> list[Event]:
    env = envelope_for(
        event,
        stream_id="upstream",
        stream_version=1,
        correlation_id=getattr(event, "order_id", "x"),
        causation_id=None,
        actor="service:test",
        producer="test",
    )
    async with world.store.unit_of_work() as uow:
        return await ROUTES[type(event)](world.inventory, uow, env, event)


def placed(order_id: str, sku: str, quantity: int) -> OrderPlaced:
    line = OrderLine(line_id="1", sku=sku, quantity=quantity, unit_price=eur("10.00"))
    address = Address(recipient="A", line1="B", postal_code="1000", city="C", country="NL")
    return example(OrderPlaced).model_copy(
        update={"order_id": order_id, "lines": (line,), "shipping_address": address}
    )


async def test_placed_then_cancelled_reserves_then_releases(world: World) -> None:
    await world.sku("TEE", AMS=3)
    reserved = await deliver(world, placed("ord-1", "TEE", 2))
    assert isinstance(reserved[0], StockReserved)
    assert await world.available("TEE") == {"AMS": 1}
    cancel = OrderCancelled(
        order_id="ord-1",
        reason=CancellationReason.CUSTOMER_REQUEST,
        cancelled_by=CancelledBy.CUSTOMER,
    )
    released = await deliver(world, cancel)
    assert isinstance(released[0], StockReleased)
    assert await world.available("TEE") == {"AMS": 3}


async def test_a_dispatch_without_a_reservation_is_refused_for_the_dead_letter_topic(
    world: World,
) -> None:
    dispatch = example(ShipmentDispatched).model_copy(
        update={
            "order_id": "ord-x",
            "warehouse_id": "AMS",
            "lines": (SkuQuantity(sku="TEE", quantity=1),),
        }
    )
    with pytest.raises(Refusal) as refused:
        await deliver(world, dispatch)
    assert refused.value.code == "no_open_reservation"
    assert classify(refused.value) is FailureClass.POISON
