"""The one routing table of the payments service: which event, which consumer, which handler.

Keyed by event class; :mod:`oms_payments.consumers` subscribes from it (type names come
from each class's ``event_type``) and the tests deliver events through it.

* ``billing`` (order topic): ``OrderPlaced`` opens an order's billing and requests each
  payment's authorization; ``OrderCancelled`` requests every payment's release;
  ``OrderShortShipped`` waives refunded short-picked units (and releases the unbilled
  remainder once every unit is billed or waived); ``OrderShipmentFailed`` pays back a
  lost or returned parcel. One consumer for all, so each is handled after its order's
  placement.
* ``shipments`` (shipping topic): ``ShipmentDispatched`` bills the shipment and requests
  the captures due; ``ShipmentDelivered`` requests cash-on-delivery captures.
* ``returns`` (returns topic): ``ReturnResolved`` requests one refund per payment.
* ``provider-work`` (the service's own topic): the provider worker carries out the
  requests (see :mod:`oms_payments.worker`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from oms_events.base import Event
from oms_events.contracts import (
    OrderCancelled,
    OrderPlaced,
    PaymentAuthorizationRequested,
    PaymentCancellationRequested,
    PaymentCaptureRequested,
    PaymentRefundRequested,
    ShipmentDelivered,
    ShipmentDispatched,
)
from oms_events.contracts.order import OrderShipmentFailed, OrderShortShipped
from oms_events.contracts.payments import PaymentReleaseRequested
from oms_events.contracts.returns import ReturnResolved
from oms_events.envelope import Envelope
from oms_events.topics import ORDER_EVENTS, PAYMENTS_EVENTS, RETURNS_EVENTS, SHIPPING_EVENTS
from oms_payments import handlers
from oms_payments.worker import ProviderWorker
from oms_platform.eventstore import UnitOfWork

E = TypeVar("E", bound=Event)

BILLING = "billing"
SHIPMENTS = "shipments"
RETURNS = "returns"
PROVIDER_WORK = "provider-work"


@dataclass(frozen=True, slots=True)
class Route:
    """Where one event type is consumed and what handles it."""

    consumer: str
    topic: str
    handle: Callable[[UnitOfWork, Envelope, Any], Awaitable[None]]


def route(
    _cls: type[E],
    consumer: str,
    topic: str,
    handle: Callable[[UnitOfWork, Envelope, E], Awaitable[None]],
) -> Route:
    """A route whose handler is checked (by mypy) to take events of ``_cls``."""
    return Route(consumer, topic, handle)


Routes = dict[type[Event], Route]


def routes(worker: ProviderWorker) -> Routes:
    """The routing table; the provider worker's handlers need its providers."""
    return {
        OrderPlaced: route(OrderPlaced, BILLING, ORDER_EVENTS, handlers.open_billing),
        OrderCancelled: route(OrderCancelled, BILLING, ORDER_EVENTS, handlers.cancel_billing),
        OrderShortShipped: route(
            OrderShortShipped, BILLING, ORDER_EVENTS, handlers.waive_short_pick
        ),
        OrderShipmentFailed: route(
            OrderShipmentFailed, BILLING, ORDER_EVENTS, handlers.reverse_shipment
        ),
        ReturnResolved: route(ReturnResolved, RETURNS, RETURNS_EVENTS, handlers.refund_return),
        ShipmentDispatched: route(
            ShipmentDispatched, SHIPMENTS, SHIPPING_EVENTS, handlers.bill_shipment
        ),
        ShipmentDelivered: route(
            ShipmentDelivered, SHIPMENTS, SHIPPING_EVENTS, handlers.collect_on_delivery
        ),
        PaymentAuthorizationRequested: route(
            PaymentAuthorizationRequested, PROVIDER_WORK, PAYMENTS_EVENTS, worker.settle
        ),
        PaymentCancellationRequested: route(
            PaymentCancellationRequested, PROVIDER_WORK, PAYMENTS_EVENTS, worker.settle
        ),
        PaymentCaptureRequested: route(
            PaymentCaptureRequested, PROVIDER_WORK, PAYMENTS_EVENTS, worker.capture
        ),
        PaymentRefundRequested: route(
            PaymentRefundRequested, PROVIDER_WORK, PAYMENTS_EVENTS, worker.refund
        ),
        PaymentReleaseRequested: route(
            PaymentReleaseRequested, PROVIDER_WORK, PAYMENTS_EVENTS, worker.release
        ),
    }
