"""Kafka topic names and which topic each event type is published on.

Each service publishes only to its own topic, ``oms.<service>.events``; orders from sales
platforms arrive on ``oms.platform.ingress``. Every topic has a dead-letter twin,
``<topic>.dlq``, where consumers park messages they cannot read (see
:class:`oms_events.errors.EventContractError`).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from oms_events.errors import UnknownEventType


class Service(StrEnum):
    """The OMS services that publish events; the value is also the ``producer`` name."""

    ORDER = "order"
    INVENTORY = "inventory"
    PAYMENTS = "payments"
    FULFILMENT = "fulfilment"
    SHIPPING = "shipping"
    RETURNS = "returns"


def events_topic(service: Service) -> str:
    """The topic a service publishes its events to: ``oms.<service>.events``."""
    return f"oms.{service.value}.events"


ORDER_EVENTS = events_topic(Service.ORDER)
INVENTORY_EVENTS = events_topic(Service.INVENTORY)
PAYMENTS_EVENTS = events_topic(Service.PAYMENTS)
FULFILMENT_EVENTS = events_topic(Service.FULFILMENT)
SHIPPING_EVENTS = events_topic(Service.SHIPPING)
RETURNS_EVENTS = events_topic(Service.RETURNS)
PLATFORM_INGRESS = "oms.platform.ingress"
"""Orders (and later other requests) submitted by sales platforms, keyed by platform ref."""

ALL_TOPICS: tuple[str, ...] = (
    PLATFORM_INGRESS,
    ORDER_EVENTS,
    INVENTORY_EVENTS,
    PAYMENTS_EVENTS,
    FULFILMENT_EVENTS,
    SHIPPING_EVENTS,
    RETURNS_EVENTS,
)
"""Every event topic (without the dead-letter topics)."""

AUDIT_ANCHORS = "oms.audit.anchors"
"""Signed chain heads of every service's streams, keyed ``<service>/<stream_id>``, on a
compacted topic (see ``oms_platform.anchors``). Not an event topic: no envelopes, no
dead-letter twin, so not in ``ALL_TOPICS``."""


def dlq(topic: str) -> str:
    """The dead-letter topic of ``topic``."""
    return f"{topic}.dlq"


# Written out rather than derived from the contracts so that the routing of the whole
# system can be read in one place; a contract test checks it matches the registry.
TOPIC_BY_EVENT_TYPE: Mapping[str, str] = MappingProxyType(
    {
        "OrderSubmitted": PLATFORM_INGRESS,
        # order
        "OrderPlaced": ORDER_EVENTS,
        "OrderRejected": ORDER_EVENTS,
        "OrderConfirmed": ORDER_EVENTS,
        "OrderCancelled": ORDER_EVENTS,
        "OrderIntakeKeyClaimed": ORDER_EVENTS,
        "OrderStockRecorded": ORDER_EVENTS,
        "OrderPaymentRecorded": ORDER_EVENTS,
        "OrderShipped": ORDER_EVENTS,
        "OrderDelivered": ORDER_EVENTS,
        "OrderCancellationRequested": ORDER_EVENTS,
        "OrderCancellationRefused": ORDER_EVENTS,
        "OrderShortShipped": ORDER_EVENTS,
        "OrderShipmentFailed": ORDER_EVENTS,
        "OrderReturnRecorded": ORDER_EVENTS,
        "FeedbackReceived": ORDER_EVENTS,
        # inventory
        "StockReserved": INVENTORY_EVENTS,
        "StockReservationFailed": INVENTORY_EVENTS,
        "StockReleased": INVENTORY_EVENTS,
        "StockShipped": INVENTORY_EVENTS,
        "StockRestocked": INVENTORY_EVENTS,
        "StockWrittenOff": INVENTORY_EVENTS,
        "WarehouseRegistered": INVENTORY_EVENTS,
        "SkuRegistered": INVENTORY_EVENTS,
        "StockReceived": INVENTORY_EVENTS,
        "StockAdjusted": INVENTORY_EVENTS,
        "StockTransferred": INVENTORY_EVENTS,
        "LowStockThresholdSet": INVENTORY_EVENTS,
        "LowStockDetected": INVENTORY_EVENTS,
        "StockAllocated": INVENTORY_EVENTS,
        "StockDeallocated": INVENTORY_EVENTS,
        "StockIssued": INVENTORY_EVENTS,
        "StockReservationCancelled": INVENTORY_EVENTS,
        "StockLost": INVENTORY_EVENTS,
        "StockWrittenDown": INVENTORY_EVENTS,
        "PromotionPlanned": INVENTORY_EVENTS,
        # payments
        "PaymentAuthorized": PAYMENTS_EVENTS,
        "PaymentDeclined": PAYMENTS_EVENTS,
        "PaymentVoided": PAYMENTS_EVENTS,
        "PaymentCaptured": PAYMENTS_EVENTS,
        "RefundIssued": PAYMENTS_EVENTS,
        "PaymentCancelled": PAYMENTS_EVENTS,
        "PaymentAuthorizationRequested": PAYMENTS_EVENTS,
        "PaymentCaptureRequested": PAYMENTS_EVENTS,
        "PaymentCancellationRequested": PAYMENTS_EVENTS,
        "PaymentRefundRequested": PAYMENTS_EVENTS,
        "OrderBillingOpened": PAYMENTS_EVENTS,
        "OrderBillingCancelled": PAYMENTS_EVENTS,
        "ShipmentBilled": PAYMENTS_EVENTS,
        "PaymentReleaseRequested": PAYMENTS_EVENTS,
        "UnitsWaived": PAYMENTS_EVENTS,
        "ShipmentBillingReversed": PAYMENTS_EVENTS,
        "GiftCardIssued": PAYMENTS_EVENTS,
        "GiftCardDebited": PAYMENTS_EVENTS,
        "GiftCardCredited": PAYMENTS_EVENTS,
        # fulfilment
        "FulfilmentRequested": FULFILMENT_EVENTS,
        "OrderPicked": FULFILMENT_EVENTS,
        "OrderPacked": FULFILMENT_EVENTS,
        "ShortPicked": FULFILMENT_EVENTS,
        "ParcelsPacked": FULFILMENT_EVENTS,
        "FulfilmentCancelled": FULFILMENT_EVENTS,
        "FulfilmentCancellationAccepted": FULFILMENT_EVENTS,
        "FulfilmentCancellationRefused": FULFILMENT_EVENTS,
        # shipping
        "ShipmentDispatched": SHIPPING_EVENTS,
        "ShipmentDelivered": SHIPPING_EVENTS,
        "ShipmentBooked": SHIPPING_EVENTS,
        "ShipmentInTransit": SHIPPING_EVENTS,
        "ShipmentDeliveryFailed": SHIPPING_EVENTS,
        "ShipmentReturnedToSender": SHIPPING_EVENTS,
        "ShipmentLost": SHIPPING_EVENTS,
        "ReturnLabelBooked": SHIPPING_EVENTS,
        # returns
        "ReturnRequested": RETURNS_EVENTS,
        "ReturnAuthorized": RETURNS_EVENTS,
        "ReturnReceived": RETURNS_EVENTS,
        "ReturnResolved": RETURNS_EVENTS,
        "ReturnExpired": RETURNS_EVENTS,
    }
)
"""Event type name -> the topic of the service that produces it."""


def topic_for(type_name: str) -> str:
    """The topic ``type_name`` events are published on (raises :class:`UnknownEventType`)."""
    try:
        return TOPIC_BY_EVENT_TYPE[type_name]
    except KeyError:
        raise UnknownEventType(
            f"no topic is defined for event type {type_name!r}", type_name=type_name
        ) from None


def types_on(topic: str) -> list[str]:
    """The event types published on ``topic``, sorted (what a subscriber may receive)."""
    return sorted(name for name, t in TOPIC_BY_EVENT_TYPE.items() if t == topic)
