"""Commands to the order aggregate: what someone (or another service) asks of an order.

Every command names the order it is for, so a refusal can say which order it was about.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from oms_events.contracts import (
    Allocation,
    CancellationReason,
    CancelledBy,
    OrderPaymentStatus,
    OrderStockStatus,
    OrderSubmitted,
    PaymentMethod,
    Shortage,
    SkuQuantity,
)
from oms_events.money import Money


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """Create the order ``order_id`` from an accepted submission."""

    order_id: str
    submission: OrderSubmitted


@dataclass(frozen=True, slots=True)
class RecordStock:
    """Record inventory's answer (reserved, unavailable, released, reservation cancelled)."""

    order_id: str
    status: OrderStockStatus
    reservation_id: str | None = None
    allocations: tuple[Allocation, ...] = ()
    shortages: tuple[Shortage, ...] = ()


@dataclass(frozen=True, slots=True)
class RecordPayment:
    """Record one payments event for one payment of the order."""

    order_id: str
    payment_id: str
    method: PaymentMethod
    amount: Money
    status: OrderPaymentStatus
    reason: str | None = None
    provider_reference: str | None = None


@dataclass(frozen=True, slots=True)
class RecordShipment:
    """Record that a shipment of the order was dispatched."""

    order_id: str
    shipment_id: str
    warehouse_id: str
    carrier: str
    tracking_number: str
    lines: tuple[SkuQuantity, ...]


@dataclass(frozen=True, slots=True)
class RecordDelivery:
    """Record that a shipment of the order was delivered."""

    order_id: str
    shipment_id: str
    carrier: str
    tracking_number: str
    delivered_at: datetime


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """Cancel the order (customer service, the customer, or the process itself)."""

    order_id: str
    reason: CancellationReason
    cancelled_by: CancelledBy
    detail: str | None = None


Fact = RecordStock | RecordPayment | RecordShipment | RecordDelivery
Command = PlaceOrder | Fact | CancelOrder
