"""Subscriptions of the order service: which events it consumes and what each one means.

* ``intake`` (platform ingress): ``OrderSubmitted`` -> place or reject the order.
* ``catalogue`` (inventory): ``SkuRegistered`` -> the table of SKUs orders may contain.
* ``order-facts`` (inventory, payments, shipping): what happened to an order elsewhere,
  recorded in the order's own stream; the order is confirmed or cancelled on it.

Contract errors are dead-lettered by the runtime; a fact about an order this service does
not have raises ``PermanentError`` so it is dead-lettered with that reason, not dropped.
"""

from __future__ import annotations

from oms_events.base import Event
from oms_events.contracts import (
    OrderPaymentStatus,
    OrderStockStatus,
    OrderSubmitted,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentDeclined,
    PaymentVoided,
    RefundIssued,
    ShipmentDelivered,
    ShipmentDispatched,
    StockReleased,
    StockReservationFailed,
    StockReserved,
)
from oms_events.contracts.inventory import SkuRegistered, StockReservationCancelled
from oms_events.contracts.payments import DeclineReason
from oms_events.envelope import Envelope
from oms_events.topics import INVENTORY_EVENTS, PAYMENTS_EVENTS, PLATFORM_INGRESS, SHIPPING_EVENTS
from oms_order.domain.commands import (
    Fact,
    RecordDelivery,
    RecordPayment,
    RecordShipment,
    RecordStock,
)
from oms_order.domain.decide import OrderNotFound
from oms_order.handlers import Intake, OrderHandlers, Source
from oms_platform.consumer import PermanentError
from oms_platform.eventstore.base import UnitOfWork
from oms_platform.service import ServiceHost

_PAYMENT_STATUS = {
    PaymentAuthorized: OrderPaymentStatus.AUTHORIZED,
    PaymentDeclined: OrderPaymentStatus.DECLINED,
    PaymentCaptured: OrderPaymentStatus.CAPTURED,
    PaymentVoided: OrderPaymentStatus.VOIDED,
    RefundIssued: OrderPaymentStatus.REFUNDED,
}


def fact_of(event: Event) -> tuple[str, Fact]:
    """The order id and the order-side command for another service's event."""
    match event:
        case StockReserved():
            return event.order_id, RecordStock(
                OrderStockStatus.RESERVED, event.reservation_id, allocations=event.allocations
            )
        case StockReservationFailed():
            return event.order_id, RecordStock(
                OrderStockStatus.UNAVAILABLE, shortages=event.shortages
            )
        case StockReleased():
            return event.order_id, RecordStock(OrderStockStatus.RELEASED, event.reservation_id)
        case StockReservationCancelled():
            return event.order_id, RecordStock(OrderStockStatus.CANCELLED)
        case (
            PaymentAuthorized()
            | PaymentDeclined()
            | PaymentCaptured()
            | PaymentVoided()
            | RefundIssued()
        ):
            reason = None
            reference = getattr(event, "provider_reference", None)
            if isinstance(event, PaymentDeclined):
                reason = _decline_reason(event.reason, event.provider_message)
            return event.order_id, RecordPayment(
                event.payment_id,
                event.method,
                event.amount,
                _PAYMENT_STATUS[type(event)],
                reason=reason,
                provider_reference=reference,
            )
        case ShipmentDispatched():
            return event.order_id, RecordShipment(
                event.shipment_id,
                event.warehouse_id,
                event.carrier,
                event.tracking_number,
                event.lines,
            )
        case ShipmentDelivered():
            return event.order_id, RecordDelivery(
                event.shipment_id, event.carrier, event.tracking_number, event.delivered_at
            )
    raise PermanentError(f"the order service does not handle {event.event_type}")


def _decline_reason(reason: DeclineReason, message: str | None) -> str:
    return f"{reason.value} ({message})" if message else reason.value


def subscribe(host: ServiceHost, handlers: OrderHandlers) -> None:
    """Register the order service's consumers on ``host``."""

    async def submitted(uow: UnitOfWork, env: Envelope, event: Event) -> None:
        assert isinstance(event, OrderSubmitted)
        await handlers.submit(uow, event, Intake(env.actor, str(env.event_id)))

    async def sku_registered(uow: UnitOfWork, env: Envelope, event: Event) -> None:
        assert isinstance(event, SkuRegistered)
        await handlers.register_sku(uow, event.sku, event.name)

    async def fact(uow: UnitOfWork, env: Envelope, event: Event) -> None:
        order_id, command = fact_of(event)
        try:
            await handlers.record(uow, order_id, command, Source.of(env))
        except OrderNotFound as err:
            raise PermanentError(f"{env.type} for unknown order {order_id}") from err

    host.subscribe("intake", [PLATFORM_INGRESS], {"OrderSubmitted": submitted})
    host.subscribe("catalogue", [INVENTORY_EVENTS], {"SkuRegistered": sku_registered})
    fact_types = [
        "StockReserved",
        "StockReservationFailed",
        "StockReleased",
        "StockReservationCancelled",
        "PaymentAuthorized",
        "PaymentDeclined",
        "PaymentCaptured",
        "PaymentVoided",
        "RefundIssued",
        "ShipmentDispatched",
        "ShipmentDelivered",
    ]
    host.subscribe(
        "order-facts",
        [INVENTORY_EVENTS, PAYMENTS_EVENTS, SHIPPING_EVENTS],
        dict.fromkeys(fact_types, fact),
    )
