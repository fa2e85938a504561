"""Subscriptions: orders reserve and release stock, dispatches book it out, returns back in.

``OrderPlaced`` and ``OrderCancelled`` share one consumer so that, per order (the Kafka
key), a cancellation is always handled after the placement it cancels. Should it come
first anyway (a replay, a reset offset), release records the cancellation and a later
placement reserves nothing.
"""

from __future__ import annotations

from oms_events.base import Event
from oms_events.contracts import OrderCancelled, OrderPlaced, ReturnReceived, ShipmentDispatched
from oms_events.envelope import Envelope
from oms_events.topics import ORDER_EVENTS, RETURNS_EVENTS, SHIPPING_EVENTS
from oms_inventory.domain.allocation import LineRequest
from oms_inventory.domain.commands import ReleaseStock, ReserveStock, ShipStock
from oms_inventory.domain.errors import Rejected
from oms_inventory.domain.returns import BookReturn
from oms_inventory.handlers import Cause, Inventory
from oms_inventory.settings import InventorySettings
from oms_platform.consumer import Handler, PermanentError
from oms_platform.eventstore import UnitOfWork
from oms_platform.service import ServiceHost


def _cause(env: Envelope) -> Cause:
    return Cause(correlation_id=env.correlation_id, causation_id=str(env.event_id))


def reserve_on_placed(inventory: Inventory, settings: InventorySettings) -> Handler:
    async def handle(uow: UnitOfWork, env: Envelope, event: Event) -> None:
        assert isinstance(event, OrderPlaced)
        cmd = ReserveStock(
            order_id=event.order_id,
            lines=tuple(LineRequest(ln.line_id, ln.sku, ln.quantity) for ln in event.lines),
            delivery_country=event.shipping_address.country,
            strategy=settings.allocation_strategy,
        )
        await inventory.reserve_stock(uow, cmd, _cause(env))

    return handle


def release_on_cancelled(inventory: Inventory) -> Handler:
    async def handle(uow: UnitOfWork, env: Envelope, event: Event) -> None:
        assert isinstance(event, OrderCancelled)
        reason = f"order cancelled ({event.reason.value}, by {event.cancelled_by.value})"
        await inventory.release_stock(uow, ReleaseStock(event.order_id, reason), _cause(env))

    return handle


def ship_on_dispatched(inventory: Inventory) -> Handler:
    async def handle(uow: UnitOfWork, env: Envelope, event: Event) -> None:
        assert isinstance(event, ShipmentDispatched)
        cmd = ShipStock(
            order_id=event.order_id,
            shipment_id=event.shipment_id,
            warehouse=event.warehouse_id,
            lines=tuple((ln.sku, ln.quantity) for ln in event.lines),
        )
        try:
            await inventory.ship_stock(uow, cmd, _cause(env))
        except Rejected as err:
            # Shipping more than the order holds will not get better on retry: park it in
            # the dead-letter topic with the reason, for a person to look at.
            raise PermanentError(err.reason) from err

    return handle


def book_on_return_received(inventory: Inventory) -> Handler:
    async def handle(uow: UnitOfWork, env: Envelope, event: Event) -> None:
        assert isinstance(event, ReturnReceived)
        cmd = BookReturn(event.return_id, event.order_id, event.warehouse_id, event.lines)
        await inventory.book_return(uow, cmd, _cause(env))

    return handle


def subscribe(host: ServiceHost, inventory: Inventory, settings: InventorySettings) -> None:
    """Register the inventory's consumers on ``host``."""
    host.subscribe(
        "orders",
        [ORDER_EVENTS],
        {
            "OrderPlaced": reserve_on_placed(inventory, settings),
            "OrderCancelled": release_on_cancelled(inventory),
        },
    )
    host.subscribe(
        "shipments", [SHIPPING_EVENTS], {"ShipmentDispatched": ship_on_dispatched(inventory)}
    )
    host.subscribe(
        "returns", [RETURNS_EVENTS], {"ReturnReceived": book_on_return_received(inventory)}
    )
