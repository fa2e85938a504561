"""Contracts published by the returns service on ``oms.returns.events``.

Stream: one per return, keyed by ``return_id`` (the RMA number, ``RMA-XXXX-XXXX``); the
correlation id stays the order id. A return's life: ``ReturnRequested`` and
``ReturnAuthorized`` together (or a refusal), then ``ReturnReceived`` (what came back, for
inventory) with ``ReturnResolved`` (the refund and its split over the payments), or
``ReturnExpired`` when nothing arrived in time.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, Field

from oms_events.base import ContractModel, Event
from oms_events.contracts.common import (
    Id,
    PaymentMethod,
    ReturnedLine,
    Sku,
    SkuQuantity,
    Text,
    Units,
)
from oms_events.limits import MAX_LINES, MAX_PAYMENTS
from oms_events.money import Money
from oms_events.registry import registry


class ReturnReason(StrEnum):
    """Why the customer sends an item back."""

    DAMAGED = "damaged"
    DEFECTIVE = "defective"
    WRONG_ITEM = "wrong_item"
    NOT_AS_DESCRIBED = "not_as_described"
    NO_LONGER_NEEDED = "no_longer_needed"
    """The customer changed their mind."""
    WRONG_SIZE = "wrong_size"
    ARRIVED_LATE = "arrived_late"
    OTHER = "other"
    """Anything else; the line's comment says what."""


class ReturnRequestLine(ContractModel):
    """Units of one SKU the customer wants to return, and why."""

    sku: Sku
    quantity: Units
    reason: ReturnReason
    comment: Text | None = None


@registry.register
class ReturnRequested(Event, type_name="ReturnRequested", version=1):
    """A customer asked to return (part of) a delivered order."""

    return_id: Id
    order_id: Id
    lines: tuple[ReturnRequestLine, ...] = Field(min_length=1, max_length=MAX_LINES)


@registry.register
class ReturnAuthorized(Event, type_name="ReturnAuthorized", version=1):
    """The return was accepted; the customer may send these lines to ``warehouse_id``."""

    return_id: Id
    order_id: Id
    warehouse_id: Id
    lines: tuple[SkuQuantity, ...] = Field(min_length=1, max_length=MAX_LINES)
    expires_at: AwareDatetime | None = Field(
        default=None,
        description="The authorisation lapses (ReturnExpired) if nothing is received by then.",
    )
    label_cost: Money | None = Field(
        default=None, description="What the shop pays for the return label it booked."
    )


@registry.register
class ReturnReceived(Event, type_name="ReturnReceived", version=1):
    """The warehouse received and inspected the returned items.

    Inventory restocks or writes off each line by condition; payments refunds
    ``refund_amount``, which the returns service computed from the order's prices.
    """

    return_id: Id
    order_id: Id
    warehouse_id: Id
    lines: tuple[ReturnedLine, ...] = Field(min_length=1, max_length=MAX_LINES)
    refund_amount: Money


class RefundLine(ContractModel):
    """Accepted units of one SKU and their refund: exactly ``unit_price * quantity``."""

    sku: Sku
    quantity: Units
    unit_price: Money
    amount: Money


class MethodRefund(ContractModel):
    """The part of a refund that goes back to one of the order's payments."""

    payment_id: Id
    method: PaymentMethod
    amount: Money = Field(description="Positive; never more than the payment has left to refund.")


class OrderReturnStatus(StrEnum):
    """What an order is after a resolved return, counting every return of the order."""

    PARTIALLY_RETURNED = "partially_returned"
    RETURNED = "returned"
    """Every delivered unit has come back and been accepted."""


@registry.register
class ReturnResolved(Event, type_name="ReturnResolved", version=1):
    """What a received return comes to: the refund, how it is paid out, the order's status.

    ``refund_amount`` is the refund lines plus ``shipping_refund``; it equals the
    ``refund_amount`` of the return's ``ReturnReceived`` (absent when every unit was
    missing) and the sum of ``refunds`` plus ``unallocated``.
    """

    return_id: Id
    order_id: Id
    refund_lines: tuple[RefundLine, ...] = Field(default=(), max_length=MAX_LINES)
    missing: tuple[SkuQuantity, ...] = Field(
        default=(),
        max_length=MAX_LINES,
        description="Authorised units that did not arrive; not refunded.",
    )
    shipping_refund: Money
    refund_amount: Money
    refunds: tuple[MethodRefund, ...] = Field(default=(), max_length=MAX_PAYMENTS)
    unallocated: Money = Field(
        description="Refund no payment had left to take (zero normally; for customer service)."
    )
    order_status: OrderReturnStatus | None = Field(
        default=None, description="Absent when no unit of the order has been accepted back."
    )


@registry.register
class ReturnExpired(Event, type_name="ReturnExpired", version=1):
    """An authorised return was never received; its units are free to be returned again."""

    return_id: Id
    order_id: Id
    lines: tuple[SkuQuantity, ...] = Field(min_length=1, max_length=MAX_LINES)
    expired_at: AwareDatetime
