"""The order aggregate's state, as rebuilt from the order's stream by ``evolve``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from oms_events.contracts import (
    Allocation,
    OrderCancelled,
    OrderPlaced,
    OrderStockStatus,
    Payment,
    PaymentMethod,
    Shortage,
    SkuQuantity,
)
from oms_events.contracts.order import (
    FeedbackReceived,
    OrderCancellationRequested,
    OrderReturnRecorded,
    OrderShortShipped,
    ShipmentFailure,
    ShortShipRemedy,
)
from oms_events.money import Money


class OrderStatus(StrEnum):
    """Where an order stands; ``placed`` waits for stock and payment."""

    NEW = "new"
    """No order yet: the stream is empty."""
    PLACED = "placed"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    PARTIALLY_RETURNED = "partially_returned"
    """Some delivered units came back (a resolved return)."""
    RETURNED = "returned"
    """Every delivered unit came back."""


DELIVERED_OR_RETURNED = (
    OrderStatus.DELIVERED,
    OrderStatus.PARTIALLY_RETURNED,
    OrderStatus.RETURNED,
)
"""The statuses of an order that reached the customer (feedback is welcome then)."""


@dataclass(frozen=True, slots=True)
class PaymentState:
    """One payment of the order and what the payments service reported about it."""

    payment_id: str
    method: PaymentMethod
    amount: Money
    status: str = "pending"
    """The latest step: pending, authorized, declined, captured, voided or refunded."""
    authorized: bool = False
    declined: bool = False
    voided: bool = False
    captured: Money | None = None
    refunded: Money | None = None
    released: Money | None = None
    """Voided (released) so far: a whole authorisation, or parts of it (a short pick's
    share, an uncollected cash-on-delivery share), each its own ``PaymentVoided``."""
    reason: str | None = None

    @classmethod
    def of(cls, payment: Payment) -> PaymentState:
        return cls(payment.payment_id, payment.method, payment.amount)

    @property
    def settled_for_confirmation(self) -> bool:
        """Authorised (a capture implies the authorisation came first)."""
        return self.authorized or self.captured is not None


@dataclass(frozen=True, slots=True)
class ShipmentState:
    shipment_id: str
    warehouse_id: str
    carrier: str
    tracking_number: str
    lines: tuple[SkuQuantity, ...]
    delivered: bool = False
    delivered_at: datetime | None = None
    failure: ShipmentFailure | None = None
    """Lost or returned to sender (``OrderShipmentFailed``)."""
    failure_detail: str | None = None


@dataclass(frozen=True, slots=True)
class CancellationRequest:
    """A cancellation asked for once the order was confirmed, and fulfilment's answer."""

    request: OrderCancellationRequested
    refusal: str | None = None
    """Why fulfilment refused it; ``None`` while it is pending (or once it was accepted)."""

    @property
    def pending(self) -> bool:
        return self.refusal is None


@dataclass(frozen=True, slots=True)
class OrderState:
    """Everything ``decide`` needs to know about one order."""

    status: OrderStatus = OrderStatus.NEW
    version: int = 0
    placed: OrderPlaced | None = None
    stock: OrderStockStatus | None = None
    reservation_id: str | None = None
    allocations: tuple[Allocation, ...] = ()
    shortages: tuple[Shortage, ...] = ()
    payments: tuple[PaymentState, ...] = ()
    shipments: tuple[ShipmentState, ...] = ()
    cancellation: OrderCancelled | None = None
    cancellation_request: CancellationRequest | None = None
    """The latest cancellation request of a confirmed order (kept once answered)."""
    confirmed: bool = field(default=False)
    short_shipped: tuple[OrderShortShipped, ...] = ()
    failed_shipments: frozenset[str] = frozenset()
    """Shipments reported lost or returned to sender (known to the order or not)."""
    returns: tuple[OrderReturnRecorded, ...] = ()
    feedback: FeedbackReceived | None = None

    @property
    def exists(self) -> bool:
        return self.placed is not None

    @property
    def order_id(self) -> str:
        if self.placed is None:
            raise ValueError("the order does not exist")
        return self.placed.order_id

    def payment(self, payment_id: str) -> PaymentState | None:
        return next((p for p in self.payments if p.payment_id == payment_id), None)

    def shipment(self, shipment_id: str) -> ShipmentState | None:
        return next((s for s in self.shipments if s.shipment_id == shipment_id), None)

    @property
    def cancellation_pending(self) -> bool:
        """A cancellation was requested and fulfilment has not answered yet."""
        return (
            self.cancellation is None
            and self.cancellation_request is not None
            and self.cancellation_request.pending
        )

    def short_pick(self, fulfilment_id: str) -> OrderShortShipped | None:
        return next((s for s in self.short_shipped if s.fulfilment_id == fulfilment_id), None)

    def returned(self, return_id: str) -> OrderReturnRecorded | None:
        return next((r for r in self.returns if r.return_id == return_id), None)

    def ordered_units(self) -> dict[str, int]:
        """Per SKU, the units the customer ordered."""
        ordered: dict[str, int] = {}
        for line in self.placed.lines if self.placed else ():
            ordered[line.sku] = ordered.get(line.sku, 0) + line.quantity
        return ordered

    def shipped_units(self) -> dict[str, int]:
        """Per SKU, the units in dispatched shipments."""
        return _units(sq for s in self.shipments for sq in s.lines)

    def short_units(self, remedy: ShortShipRemedy | None = None) -> dict[str, int]:
        """Per SKU, the units short-picked (with ``remedy``, or any)."""
        return _units(
            sq
            for s in self.short_shipped
            if remedy is None or s.remedy is remedy
            for sq in s.missing
        )

    def due_units(self) -> dict[str, int]:
        """Per SKU, the units still to ship: ordered, less those short-picked for a
        refund (they will never ship; back-ordered units still will)."""
        written_off = self.short_units(ShortShipRemedy.REFUND)
        return {
            sku: max(0, qty - written_off.get(sku, 0)) for sku, qty in self.ordered_units().items()
        }

    @property
    def fully_shipped(self) -> bool:
        """Every unit still due is in some dispatched shipment."""
        if self.placed is None:
            return False
        shipped = self.shipped_units()
        return all(shipped.get(sku, 0) >= qty for sku, qty in self.due_units().items())

    @property
    def nothing_to_ship(self) -> bool:
        """Every ordered unit was short-picked for a refund and nothing was dispatched."""
        return self.placed is not None and not self.shipments and not any(self.due_units().values())


def _units(lines: Iterable[SkuQuantity]) -> dict[str, int]:
    units: dict[str, int] = {}
    for sq in lines:
        units[sq.sku] = units.get(sq.sku, 0) + sq.quantity
    return units
