"""The order aggregate's state, as rebuilt from the order's stream by ``evolve``."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    confirmed: bool = field(default=False)

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
    def fully_shipped(self) -> bool:
        """Every ordered unit is in some dispatched shipment."""
        if self.placed is None:
            return False
        ordered: dict[str, int] = {}
        for line in self.placed.lines:
            ordered[line.sku] = ordered.get(line.sku, 0) + line.quantity
        shipped: dict[str, int] = {}
        for shipment in self.shipments:
            for sq in shipment.lines:
                shipped[sq.sku] = shipped.get(sq.sku, 0) + sq.quantity
        return all(shipped.get(sku, 0) >= qty for sku, qty in ordered.items())
