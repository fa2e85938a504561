"""Subscriptions of the order service: which events it consumes and what each one means.

:data:`ROUTES` is the one routing table, keyed by event class; :func:`subscribe` derives
each consumer's topics and type names from it, and tests deliver events through it.

* ``intake`` (platform ingress): ``OrderSubmitted`` -> place or reject the order.
* ``catalogue`` (inventory): ``SkuRegistered`` -> the table of SKUs orders may contain.
* ``order-facts`` (inventory, payments, fulfilment, shipping, returns): what happened to
  an order elsewhere, recorded in the order's own stream; the order is confirmed or
  cancelled on it. Fulfilment's answer to a cancellation request comes this way too (the
  request is the order's own event, so no ordering across consumers is needed: the answer
  can only follow the request).

Contract errors are dead-lettered by the runtime; a fact about an order this service does
not have is refused (``order_not_found``), so it is dead-lettered with that reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

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
from oms_events.contracts.common import SkuQuantity
from oms_events.contracts.fulfilment import (
    FulfilmentCancellationAccepted,
    FulfilmentCancellationRefused,
    ShortPicked,
)
from oms_events.contracts.inventory import SkuRegistered, StockReservationCancelled
from oms_events.contracts.order import ShipmentFailure, ShortShipRemedy
from oms_events.contracts.payments import DeclineReason
from oms_events.contracts.returns import ReturnResolved
from oms_events.contracts.shipping import ShipmentLost, ShipmentReturnedToSender
from oms_events.envelope import Envelope
from oms_events.topics import topic_for
from oms_order.domain.commands import (
    Fact,
    RecordCancellationAnswer,
    RecordDelivery,
    RecordPayment,
    RecordReturn,
    RecordShipment,
    RecordShipmentFailure,
    RecordShortPick,
    RecordStock,
)
from oms_order.handlers import Intake, OrderHandlers, Source
from oms_platform.consumer import Handler
from oms_platform.eventstore.base import UnitOfWork
from oms_platform.refusal import Refusal
from oms_platform.service import ServiceHost

Handle = Callable[[OrderHandlers, UnitOfWork, Envelope, Event], Awaitable[None]]

_PAYMENT_STATUS = {
    PaymentAuthorized: OrderPaymentStatus.AUTHORIZED,
    PaymentDeclined: OrderPaymentStatus.DECLINED,
    PaymentCaptured: OrderPaymentStatus.CAPTURED,
    PaymentVoided: OrderPaymentStatus.VOIDED,
    RefundIssued: OrderPaymentStatus.REFUNDED,
}


def fact_of(event: Event, short_pick_remedy: ShortShipRemedy = ShortShipRemedy.REFUND) -> Fact:
    """The order-side command for another service's event about an order.

    ``short_pick_remedy`` is the shop's setting, recorded with a short pick.
    """
    match event:
        case StockReserved():
            return RecordStock(
                event.order_id,
                OrderStockStatus.RESERVED,
                event.reservation_id,
                allocations=event.allocations,
            )
        case StockReservationFailed():
            return RecordStock(
                event.order_id, OrderStockStatus.UNAVAILABLE, shortages=event.shortages
            )
        case StockReleased():
            return RecordStock(event.order_id, OrderStockStatus.RELEASED, event.reservation_id)
        case StockReservationCancelled():
            return RecordStock(event.order_id, OrderStockStatus.CANCELLED)
        case (
            PaymentAuthorized()
            | PaymentDeclined()
            | PaymentCaptured()
            | PaymentVoided()
            | RefundIssued()
        ):
            reason = None
            if isinstance(event, PaymentDeclined):
                reason = _decline_reason(event.reason, event.provider_message)
            return RecordPayment(
                event.order_id,
                event.payment_id,
                event.method,
                event.amount,
                _PAYMENT_STATUS[type(event)],
                reason=reason,
                provider_reference=getattr(event, "provider_reference", None),
            )
        case ShipmentDispatched():
            return RecordShipment(
                event.order_id,
                event.shipment_id,
                event.warehouse_id,
                event.carrier,
                event.tracking_number,
                event.lines,
            )
        case ShipmentDelivered():
            return RecordDelivery(
                event.order_id,
                event.shipment_id,
                event.carrier,
                event.tracking_number,
                event.delivered_at,
            )
        case ShortPicked():
            return RecordShortPick(
                event.order_id,
                event.fulfilment_id,
                event.warehouse_id,
                event.missing,
                short_pick_remedy,
            )
        case ShipmentLost():
            return RecordShipmentFailure(
                event.order_id, event.shipment_id, ShipmentFailure.LOST, event.reason
            )
        case ShipmentReturnedToSender():
            return RecordShipmentFailure(
                event.order_id, event.shipment_id, ShipmentFailure.RETURNED_TO_SENDER, event.reason
            )
        case ReturnResolved():
            return RecordReturn(
                event.order_id,
                event.return_id,
                tuple(SkuQuantity(sku=r.sku, quantity=r.quantity) for r in event.refund_lines),
                event.refund_amount,
                event.order_status,
            )
        case FulfilmentCancellationAccepted():
            return RecordCancellationAnswer(event.order_id, accepted=True)
        case FulfilmentCancellationRefused():
            return RecordCancellationAnswer(event.order_id, accepted=False, reason=event.reason)
    raise Refusal("not_an_order_fact", f"the order service does not handle {event.event_type}")


def _decline_reason(reason: DeclineReason, message: str | None) -> str:
    return f"{reason.value} ({message})" if message else reason.value


async def place_or_reject(h: OrderHandlers, uow: UnitOfWork, env: Envelope, event: Event) -> None:
    assert isinstance(event, OrderSubmitted)
    await h.submit(uow, event, Intake(env.actor, str(env.event_id)))


async def register_sku(h: OrderHandlers, uow: UnitOfWork, env: Envelope, event: Event) -> None:
    assert isinstance(event, SkuRegistered)
    await h.register_sku(uow, event.sku, event.name)


async def record_fact(h: OrderHandlers, uow: UnitOfWork, env: Envelope, event: Event) -> None:
    await h.record(uow, fact_of(event, h.short_pick_remedy), Source.of(env))


@dataclass(frozen=True, slots=True)
class Route:
    """Who handles an event: the consumer (its group and inbox) and the handler."""

    consumer: str
    handle: Handle


_FACTS: tuple[type[Event], ...] = (
    StockReserved,
    StockReservationFailed,
    StockReleased,
    StockReservationCancelled,
    PaymentAuthorized,
    PaymentDeclined,
    PaymentCaptured,
    PaymentVoided,
    RefundIssued,
    ShipmentDispatched,
    ShipmentDelivered,
    ShipmentLost,
    ShipmentReturnedToSender,
    ShortPicked,
    FulfilmentCancellationAccepted,
    FulfilmentCancellationRefused,
    ReturnResolved,
)

ROUTES: dict[type[Event], Route] = {
    OrderSubmitted: Route("intake", place_or_reject),
    SkuRegistered: Route("catalogue", register_sku),
    **{fact: Route("order-facts", record_fact) for fact in _FACTS},
}
"""Every event the order service consumes, by class."""


def subscribe(host: ServiceHost, handlers: OrderHandlers) -> None:
    """Register one consumer per :data:`ROUTES` consumer name on ``host``."""
    by_consumer: dict[str, dict[type[Event], Handle]] = {}
    for cls, route in ROUTES.items():
        by_consumer.setdefault(route.consumer, {})[cls] = route.handle
    for consumer, routes in by_consumer.items():
        topics = sorted({topic_for(cls.event_type) for cls in routes})
        host.subscribe(
            consumer, topics, {cls.event_type: bind(h, handlers) for cls, h in routes.items()}
        )


def bind(handle: Handle, handlers: OrderHandlers) -> Handler:
    """``handle`` as a consumer runtime handler on ``handlers``."""

    async def handler(uow: UnitOfWork, env: Envelope, event: Event) -> None:
        await handle(handlers, uow, env, event)

    return handler
