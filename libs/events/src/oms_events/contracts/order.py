"""Contracts published by the order service on ``oms.order.events``.

Stream: one per order (``stream_id`` is the order id, which is also the correlation id).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, Field, model_validator

from oms_events.base import ContractModel, Event
from oms_events.contracts.common import (
    Address,
    Allocation,
    Customer,
    Id,
    Name,
    OrderLine,
    Payment,
    PaymentMethod,
    SkuQuantity,
    Text,
    check_order_amounts,
    order_total,
)
from oms_events.contracts.inventory import Shortage
from oms_events.contracts.returns import OrderReturnStatus
from oms_events.limits import MAX_ALLOCATIONS, MAX_LINES, MAX_PAYMENTS, MAX_REJECTION_REASONS
from oms_events.money import Money
from oms_events.registry import registry


@registry.register
class OrderPlaced(Event, type_name="OrderPlaced", version=1):
    """The order service accepted a submitted order and gave it an OMS order id.

    In reaction, inventory reserves stock and payments authorises each payment.
    """

    order_id: Id
    platform_order_ref: Id
    sales_channel: Name
    customer: Customer
    lines: tuple[OrderLine, ...] = Field(min_length=1, max_length=MAX_LINES)
    shipping_address: Address
    shipping_charge: Money
    payments: tuple[Payment, ...] = Field(min_length=1, max_length=MAX_PAYMENTS)
    placed_at: AwareDatetime = Field(description="When the customer placed the order.")

    @model_validator(mode="after")
    def _amounts(self) -> OrderPlaced:
        check_order_amounts(self.lines, self.shipping_charge, self.payments)
        return self

    @property
    def total(self) -> Money:
        """What the customer owes: all lines plus the shipping charge."""
        return order_total(self.lines, self.shipping_charge)


class RejectionCode(StrEnum):
    """Why a submitted order was not accepted."""

    DUPLICATE_ORDER = "duplicate_order"
    UNKNOWN_SKU = "unknown_sku"
    UNSUPPORTED_COUNTRY = "unsupported_country"
    UNSUPPORTED_PAYMENT_METHOD = "unsupported_payment_method"
    PAYMENT_TOTAL_MISMATCH = "payment_total_mismatch"
    INVALID_ORDER = "invalid_order"


class RejectionReason(ContractModel):
    """One reason for rejecting an order; ``detail`` is for the people reading it."""

    code: RejectionCode
    detail: Text


@registry.register
class OrderRejected(Event, type_name="OrderRejected", version=1):
    """A submitted order was refused and no order was created (so there is no order id)."""

    platform_order_ref: Id
    sales_channel: Name
    reasons: tuple[RejectionReason, ...] = Field(min_length=1, max_length=MAX_REJECTION_REASONS)


@registry.register
class OrderConfirmed(Event, type_name="OrderConfirmed", version=1):
    """Stock is reserved and every payment authorised: the order will be fulfilled.

    Carries the allocations and address so fulfilment can act on this event alone.
    """

    order_id: Id
    allocations: tuple[Allocation, ...] = Field(min_length=1, max_length=MAX_ALLOCATIONS)
    shipping_address: Address


class CancellationReason(StrEnum):
    """Why an order was cancelled."""

    STOCK_UNAVAILABLE = "stock_unavailable"
    PAYMENT_DECLINED = "payment_declined"
    CUSTOMER_REQUEST = "customer_request"
    MERCHANT_REQUEST = "merchant_request"
    FRAUD_SUSPECTED = "fraud_suspected"


class CancelledBy(StrEnum):
    """Which party cancelled; the envelope's ``actor`` names the exact user or service."""

    SYSTEM = "system"
    CUSTOMER = "customer"
    STAFF = "staff"


@registry.register
class OrderCancelled(Event, type_name="OrderCancelled", version=1):
    """The order will not be fulfilled; inventory releases stock, payments void.

    Only possible before dispatch; afterwards the way back is a return.
    """

    order_id: Id
    reason: CancellationReason
    cancelled_by: CancelledBy
    detail: Text | None = None


# -- Order-side facts ------------------------------------------------------------------
# The order service records what other services told it about an order in the order's own
# stream, so the order (status, payments, allocations, timeline) can be rebuilt from the
# order service's store alone. Each fact's envelope keeps the source event's id as its
# causation id, its actor and its occurred_at.


class IntakeKeyKind(StrEnum):
    """What a submission was deduplicated by."""

    PLATFORM_ORDER_REF = "platform_order_ref"
    IDEMPOTENCY_KEY = "idempotency_key"


@registry.register
class OrderIntakeKeyClaimed(Event, type_name="OrderIntakeKeyClaimed", version=1):
    """A submission key now belongs to an order: later submissions with it get that order.

    Stream: one per key (the platform order reference per sales channel, or an HTTP
    ``Idempotency-Key``), appended with the order's first event so that two concurrent
    submissions of the same order cannot both create one.
    """

    order_id: Id
    key_kind: IntakeKeyKind
    platform_order_ref: Id
    sales_channel: Name
    idempotency_key: Id | None = None
    request_fingerprint: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 of the canonical submission, to spot a key reused for another body.",
    )


class OrderStockStatus(StrEnum):
    """The stock situation of an order as inventory reported it."""

    RESERVED = "reserved"
    UNAVAILABLE = "unavailable"
    RELEASED = "released"
    CANCELLED = "cancelled"
    """The order was cancelled before inventory reserved anything."""


@registry.register
class OrderStockRecorded(Event, type_name="OrderStockRecorded", version=1):
    """The order service recorded inventory's answer for an order (reserved/failed/released)."""

    order_id: Id
    status: OrderStockStatus
    reservation_id: Id | None = None
    allocations: tuple[Allocation, ...] = Field(default=(), max_length=MAX_ALLOCATIONS)
    shortages: tuple[Shortage, ...] = Field(default=(), max_length=MAX_LINES)


class OrderPaymentStatus(StrEnum):
    """What happened to one payment of an order, as the payments service reported it."""

    AUTHORIZED = "authorized"
    DECLINED = "declined"
    CAPTURED = "captured"
    VOIDED = "voided"
    REFUNDED = "refunded"


@registry.register
class OrderPaymentRecorded(Event, type_name="OrderPaymentRecorded", version=1):
    """The order service recorded a payments event for one payment of an order.

    ``amount`` is the amount of this step (the captured or refunded part, for those).
    """

    order_id: Id
    payment_id: Id
    method: PaymentMethod
    amount: Money
    status: OrderPaymentStatus
    reason: Text | None = Field(default=None, description="Why a payment was declined.")
    provider_reference: Id | None = None


@registry.register
class OrderShipped(Event, type_name="OrderShipped", version=1):
    """A shipment of the order left a warehouse; customer service can no longer cancel it."""

    order_id: Id
    shipment_id: Id
    warehouse_id: Id
    carrier: Name
    tracking_number: Id
    lines: tuple[SkuQuantity, ...] = Field(min_length=1, max_length=MAX_LINES)


@registry.register
class OrderDelivered(Event, type_name="OrderDelivered", version=1):
    """A shipment of the order was delivered."""

    order_id: Id
    shipment_id: Id
    carrier: Name
    tracking_number: Id
    delivered_at: AwareDatetime


# -- The rest of the order's life (issue 8) ----------------------------------------------
# Cancellation once fulfilment may have started, short picks, parcels that never arrive,
# returns and the customer's feedback, each recorded in the order's own stream.


@registry.register
class OrderCancellationRequested(Event, type_name="OrderCancellationRequested", version=1):
    """Someone asked to cancel a confirmed order; fulfilment answers.

    Fulfilment cancels the order's fulfilments if none is packed yet
    (``FulfilmentCancellationAccepted``, then the order records ``OrderCancelled``) and
    refuses otherwise (``FulfilmentCancellationRefused``, then ``OrderCancellationRefused``).
    """

    order_id: Id
    reason: CancellationReason
    cancelled_by: CancelledBy
    detail: Text | None = None


@registry.register
class OrderCancellationRefused(Event, type_name="OrderCancellationRefused", version=1):
    """A requested cancellation came too late: part of the order is packed or dispatched."""

    order_id: Id
    reason: Text = Field(description="Why, in words, e.g. which fulfilment was already packed.")


class ShortShipRemedy(StrEnum):
    """What the shop offers the customer for units the warehouse could not find."""

    REFUND = "refund"
    """The units are not charged: their share of the authorisation is released."""
    BACK_ORDER = "back_order"
    """The units will follow when stock arrives (not charged until they ship)."""


@registry.register
class OrderShortShipped(Event, type_name="OrderShortShipped", version=1):
    """Units of the order will not ship from this fulfilment (a short pick)."""

    order_id: Id
    fulfilment_id: Id
    warehouse_id: Id
    missing: tuple[SkuQuantity, ...] = Field(min_length=1, max_length=MAX_LINES)
    remedy: ShortShipRemedy


class ShipmentFailure(StrEnum):
    """How a dispatched parcel failed to reach the customer."""

    LOST = "lost"
    RETURNED_TO_SENDER = "returned_to_sender"


@registry.register
class OrderShipmentFailed(Event, type_name="OrderShipmentFailed", version=1):
    """A parcel of the order was lost or came back undelivered."""

    order_id: Id
    shipment_id: Id
    failure: ShipmentFailure
    detail: Text | None = None


@registry.register
class OrderReturnRecorded(Event, type_name="OrderReturnRecorded", version=1):
    """A return of the order was resolved: units accepted back and the refund decided."""

    order_id: Id
    return_id: Id
    lines: tuple[SkuQuantity, ...] = Field(
        default=(), max_length=MAX_LINES, description="The units accepted back."
    )
    refund_amount: Money
    status: OrderReturnStatus | None = Field(
        default=None, description="partially_returned or returned; absent if nothing came back."
    )


Rating = Annotated[int, Field(strict=True, ge=1, le=5)]


@registry.register
class FeedbackReceived(Event, type_name="FeedbackReceived", version=1):
    """The customer rated a delivered order (once per order)."""

    order_id: Id
    rating: Rating = Field(description="1 (very unhappy) to 5 (very happy).")
    comment: Text | None = None
