"""Subscriptions: which events the payments service reacts to, and with which handler.

* ``billing`` (order topic): ``OrderPlaced`` opens an order's billing and requests each
  payment's authorisation; ``OrderCancelled`` requests every payment's release. One
  consumer for both, so a cancellation is handled after its order's placement.
* ``shipments`` (shipping topic): ``ShipmentDispatched`` bills the shipment and requests
  the captures due; ``ShipmentDelivered`` requests cash-on-delivery captures.
* ``provider-work`` (the service's own topic): carries out the requests with the
  payment providers (see :mod:`oms_payments.worker`).

Domain refusals become :class:`PermanentError` (dead-lettered with their reason at once);
``NotReady`` and provider timeouts stay transient, so the runtime retries them with backoff.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

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
from oms_events.envelope import Envelope
from oms_events.topics import ORDER_EVENTS, PAYMENTS_EVENTS, SHIPPING_EVENTS
from oms_payments import handlers
from oms_payments.domain.errors import NotFound, Refused
from oms_payments.providers.base import ProviderRefused
from oms_payments.worker import ProviderWorker
from oms_platform.consumer import Handler, PermanentError
from oms_platform.eventstore import UnitOfWork
from oms_platform.service import ServiceHost

E = TypeVar("E", bound=Event)


def subscribe(host: ServiceHost, worker: ProviderWorker) -> None:
    """Register the service's consumers on ``host``."""
    host.subscribe(
        "billing",
        [ORDER_EVENTS],
        {
            "OrderPlaced": _handler(OrderPlaced, handlers.open_billing),
            "OrderCancelled": _handler(OrderCancelled, handlers.cancel_billing),
        },
    )
    host.subscribe(
        "shipments",
        [SHIPPING_EVENTS],
        {
            "ShipmentDispatched": _handler(ShipmentDispatched, handlers.bill_shipment),
            "ShipmentDelivered": _handler(ShipmentDelivered, handlers.collect_on_delivery),
        },
    )
    host.subscribe(
        "provider-work",
        [PAYMENTS_EVENTS],
        {
            "PaymentAuthorizationRequested": _handler(PaymentAuthorizationRequested, worker.settle),
            "PaymentCancellationRequested": _handler(PaymentCancellationRequested, worker.settle),
            "PaymentCaptureRequested": _handler(PaymentCaptureRequested, worker.capture),
            "PaymentRefundRequested": _handler(PaymentRefundRequested, worker.refund),
        },
    )


def _handler(cls: type[E], handle: Callable[[UnitOfWork, Envelope, E], Awaitable[None]]) -> Handler:
    """``handle`` as a runtime handler: typed event, refusals made permanent."""

    async def run(uow: UnitOfWork, env: Envelope, event: Event) -> None:
        if not isinstance(event, cls):
            raise PermanentError(f"expected {cls.event_type}, got {env.type}")
        try:
            await handle(uow, env, event)
        except (Refused, NotFound) as refusal:
            raise PermanentError(f"{refusal.code}: {refusal.reason}") from refusal
        except ProviderRefused as refusal:
            raise PermanentError(f"provider refused: {refusal}") from refusal

    return run
