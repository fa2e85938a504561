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
from oms_events.contracts.order import ShipmentFailure, ShortShipRemedy
from oms_events.contracts.returns import OrderReturnStatus
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
class RecordShortPick:
    """Record that a fulfilment of the order could not find ``missing`` units; the shop's
    ``remedy`` (its setting at the time) says what the customer is offered for them."""

    order_id: str
    fulfilment_id: str
    warehouse_id: str
    missing: tuple[SkuQuantity, ...]
    remedy: ShortShipRemedy


@dataclass(frozen=True, slots=True)
class RecordShipmentFailure:
    """Record that a dispatched parcel was lost or returned to sender."""

    order_id: str
    shipment_id: str
    failure: ShipmentFailure
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class RecordReturn:
    """Record a resolved return: the units accepted back, the refund, the order's status."""

    order_id: str
    return_id: str
    lines: tuple[SkuQuantity, ...]
    refund_amount: Money
    status: OrderReturnStatus | None


@dataclass(frozen=True, slots=True)
class RecordCancellationAnswer:
    """Record fulfilment's answer to the order's pending cancellation request."""

    order_id: str
    accepted: bool
    reason: str | None = None
    """Why it was refused (a refusal only)."""


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """Cancel the order (customer service, the customer, or the process itself).

    At once while the order is placed; once confirmed, a request fulfilment answers.
    """

    order_id: str
    reason: CancellationReason
    cancelled_by: CancelledBy
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class GiveFeedback:
    """The customer's rating (1-5) and comment on a delivered order."""

    order_id: str
    rating: int
    comment: str | None = None


Fact = (
    RecordStock
    | RecordPayment
    | RecordShipment
    | RecordDelivery
    | RecordShortPick
    | RecordShipmentFailure
    | RecordReturn
    | RecordCancellationAnswer
)
Command = PlaceOrder | Fact | CancelOrder | GiveFeedback
