"""What the inventory reacts to: one routing table, keyed by event class.

``OrderPlaced`` reserves, ``OrderCancelled`` releases, ``ShipmentDispatched`` books stock
out (and ``ShipmentReturnedToSender`` puts its units back), ``ShortPicked`` books the units
a warehouse could not find as lost, ``ReturnReceived`` books returned units back in
(resellable) or writes them off. :data:`ROUTES` is the one
table; :data:`CONSUMERS` groups its events into consumers (each its own group and inbox),
whose topics and type names follow from the classes. ``OrderPlaced`` and
``OrderCancelled`` share one consumer so that, per order (the Kafka key), a cancellation
is handled after the placement it cancels. Should it come first anyway (a replay, a
reset offset), release records the cancellation and a later placement reserves nothing.

``ShortPicked`` has a consumer of its own (``fulfilments``, on the fulfilment topic)
rather than joining ``shipments``: Kafka orders nothing across topics, so sharing a
consumer with the dispatches would buy no ordering, and the decision does not need one
(a short pick takes from the reservation what is still outstanding at its warehouse,
whether a dispatch of the same fulfilment was booked before or after it). A consumer per
producing topic also keeps one topic's retries from holding up the other's.

A refusal (a dispatch of units the order does not hold in that warehouse) cannot get
better on retry: the runtime dead-letters the message at once with its code and reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from oms_events.base import Event
from oms_events.contracts import OrderCancelled, OrderPlaced, ReturnReceived, ShipmentDispatched
from oms_events.contracts.fulfilment import ShortPicked
from oms_events.contracts.shipping import ShipmentReturnedToSender
from oms_events.envelope import Envelope
from oms_events.topics import topic_for
from oms_inventory.domain.allocation import LineRequest
from oms_inventory.domain.commands import (
    BookReturn,
    BookShortPick,
    ReleaseStock,
    ReserveStock,
    RestockReturnedShipment,
    ShipStock,
)
from oms_inventory.handlers import Cause, Inventory
from oms_platform.consumer import Handler
from oms_platform.eventstore import UnitOfWork
from oms_platform.service import ServiceHost

Reaction = Callable[[Inventory, UnitOfWork, Envelope, Event], Awaitable[list[Event]]]


def _cause(env: Envelope) -> Cause:
    return Cause(correlation_id=env.correlation_id, causation_id=str(env.event_id))


async def reserve_stock(
    inventory: Inventory, uow: UnitOfWork, env: Envelope, event: Event
) -> list[Event]:
    assert isinstance(event, OrderPlaced)
    cmd = ReserveStock(
        order_id=event.order_id,
        lines=tuple(LineRequest(ln.line_id, ln.sku, ln.quantity) for ln in event.lines),
        delivery_country=event.shipping_address.country,
        strategy=inventory.strategy,
    )
    return await inventory.reserve_stock(uow, cmd, _cause(env))


async def release_stock(
    inventory: Inventory, uow: UnitOfWork, env: Envelope, event: Event
) -> list[Event]:
    assert isinstance(event, OrderCancelled)
    reason = f"order cancelled ({event.reason.value}, by {event.cancelled_by.value})"
    return await inventory.release_stock(uow, ReleaseStock(event.order_id, reason), _cause(env))


async def ship_stock(
    inventory: Inventory, uow: UnitOfWork, env: Envelope, event: Event
) -> list[Event]:
    assert isinstance(event, ShipmentDispatched)
    cmd = ShipStock(
        order_id=event.order_id,
        shipment_id=event.shipment_id,
        warehouse=event.warehouse_id,
        lines=tuple((ln.sku, ln.quantity) for ln in event.lines),
    )
    return await inventory.ship_stock(uow, cmd, _cause(env))


async def restock_returned(
    inventory: Inventory, uow: UnitOfWork, env: Envelope, event: Event
) -> list[Event]:
    assert isinstance(event, ShipmentReturnedToSender)
    cmd = RestockReturnedShipment(order_id=event.order_id, shipment_id=event.shipment_id)
    return await inventory.restock_returned_shipment(uow, cmd, _cause(env))


async def book_short_pick(
    inventory: Inventory, uow: UnitOfWork, env: Envelope, event: Event
) -> list[Event]:
    assert isinstance(event, ShortPicked)
    cmd = BookShortPick(
        order_id=event.order_id,
        fulfilment_id=event.fulfilment_id,
        warehouse=event.warehouse_id,
        missing=tuple((ln.sku, ln.quantity) for ln in event.missing),
    )
    return await inventory.book_short_pick(uow, cmd, _cause(env))


async def book_return(
    inventory: Inventory, uow: UnitOfWork, env: Envelope, event: Event
) -> list[Event]:
    assert isinstance(event, ReturnReceived)
    cmd = BookReturn(event.return_id, event.order_id, event.warehouse_id, event.lines)
    return await inventory.book_return(uow, cmd, _cause(env))


ROUTES: Mapping[type[Event], Reaction] = {
    OrderPlaced: reserve_stock,
    OrderCancelled: release_stock,
    ShipmentDispatched: ship_stock,
    ShipmentReturnedToSender: restock_returned,
    ShortPicked: book_short_pick,
    ReturnReceived: book_return,
}
"""The one routing table: which handler each consumed event class goes to."""

CONSUMERS: Mapping[str, tuple[type[Event], ...]] = {
    "orders": (OrderPlaced, OrderCancelled),
    # One consumer and topic: a parcel's return is handled after its dispatch.
    "shipments": (ShipmentDispatched, ShipmentReturnedToSender),
    "fulfilments": (ShortPicked,),
    "returns": (ReturnReceived,),
}
"""Consumer name -> the events of :data:`ROUTES` it handles (one group and inbox each)."""


def handler(inventory: Inventory, event_class: type[Event]) -> Handler:
    """The runtime's handler for ``event_class``: its route, bound to ``inventory``."""
    reaction = ROUTES[event_class]

    async def handle(uow: UnitOfWork, env: Envelope, event: Event) -> None:
        await reaction(inventory, uow, env, event)

    return handle


def subscribe(host: ServiceHost, inventory: Inventory) -> None:
    """Register the inventory's consumers on ``host``."""
    for consumer, classes in CONSUMERS.items():
        topics = sorted({topic_for(cls.event_type) for cls in classes})
        handlers = {cls.event_type: handler(inventory, cls) for cls in classes}
        # Every one of them writes SKU stock streams, which orders on every partition
        # share: their batches take turns (see ``Subscription.exclusive``).
        host.subscribe(consumer, topics, handlers, exclusive=True)
