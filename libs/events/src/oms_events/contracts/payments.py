"""Contracts published by the payments service on ``oms.payments.events``.

An order may be paid with several payments (e.g. a gift card plus a card); each one has its
own ``payment_id`` and its own authorisation, capture, void and refund events.

Streams: one per payment (``payment-<payment id>``), one per order
(``payments-order-<order id>``: what the order owes, how it is paid, what each shipment
billed, whether it was cancelled) and one per gift card (``giftcard-<token>``: its balance).
A gift card's code is a secret: only its token (``GiftCardToken``, a keyed hash of the
code) is in events, stream ids and Kafka keys.

The ``...Requested`` events are the payments service's own work queue: it records what it
must ask a payment provider, then acts on each request in order, with an idempotency key
per provider call. Other services can ignore them; the outcomes (``PaymentAuthorized``,
``PaymentDeclined``, ``PaymentCaptured``, ``PaymentVoided``, ``RefundIssued``,
``PaymentCancelled``) are the facts to react to.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import Field, model_validator

from oms_events.base import ContractModel, Event
from oms_events.contracts.common import (
    Email,
    GiftCardToken,
    Id,
    Name,
    OrderLine,
    Payment,
    PaymentMethod,
    SkuQuantity,
    Text,
    check_order_amounts,
)
from oms_events.contracts.order import ShipmentFailure
from oms_events.limits import MAX_LINES, MAX_PAYMENTS
from oms_events.money import Money
from oms_events.registry import registry


class _PaymentEvent(Event):
    """Fields shared by every payments event (abstract)."""

    order_id: Id
    payment_id: Id
    method: PaymentMethod
    amount: Money


@registry.register
class PaymentAuthorized(_PaymentEvent, type_name="PaymentAuthorized", version=1):
    """The provider reserved ``amount`` for this payment; it can be captured or voided."""

    provider: Name
    provider_reference: Id


class DeclineReason(StrEnum):
    """Why a payment provider refused an authorisation."""

    INSUFFICIENT_FUNDS = "insufficient_funds"
    CARD_EXPIRED = "card_expired"
    AUTHENTICATION_FAILED = "authentication_failed"
    CREDIT_CHECK_FAILED = "credit_check_failed"
    FRAUD_SUSPECTED = "fraud_suspected"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    REFUSED = "refused"
    """Refused without a more specific reason."""


@registry.register
class PaymentDeclined(_PaymentEvent, type_name="PaymentDeclined", version=1):
    """The provider refused the payment; the order service will cancel the order."""

    reason: DeclineReason
    provider_message: Text | None = None


@registry.register
class PaymentVoided(_PaymentEvent, type_name="PaymentVoided", version=1):
    """(Part of) an authorisation was released without capturing.

    ``amount`` is the amount released. Without ``release_id`` the order was cancelled and
    everything authorised and not captured was released; with it, one requested release
    (``PaymentReleaseRequested``: the unshipped share of a short-picked order, the cash on
    delivery share of a parcel that never arrived) and the rest stays authorised.
    """

    provider_reference: Id
    release_id: Id | None = None


@registry.register
class PaymentCaptured(_PaymentEvent, type_name="PaymentCaptured", version=1):
    """Authorised money was collected, triggered by the dispatch of a shipment.

    ``amount`` is the captured part. ``shipment_id`` names the shipment it pays for; it is
    absent for methods paid up front (iDEAL, bank transfer), captured when the order is placed.
    """

    shipment_id: Id | None = None
    provider_reference: Id


@registry.register
class RefundIssued(_PaymentEvent, type_name="RefundIssued", version=1):
    """Money was paid back to the customer for a received return.

    ``amount`` is the refunded amount, not the original payment's. ``return_id`` is absent
    for refunds that are not for a return (a cancelled order, a goodwill refund).
    """

    refund_id: Id
    return_id: Id | None = None
    provider_reference: Id
    reason: Text | None = None


@registry.register
class PaymentCancelled(_PaymentEvent, type_name="PaymentCancelled", version=1):
    """The order was cancelled before this payment was authorised: nothing was reserved."""

    reason: Text


@registry.register
class PaymentAuthorizationRequested(
    _PaymentEvent, type_name="PaymentAuthorizationRequested", version=1
):
    """Payments accepted one payment of a placed order and will have it authorised.

    Methods paid up front (iDEAL, bank transfer) are authorised and captured in one step.
    """

    customer_email: Email = Field(description="The shopper, as the provider is told.")
    gift_card: GiftCardToken | None = Field(
        default=None, description="The gift card to debit (its token), for method gift_card."
    )
    gift_card_code: Id | None = Field(
        default=None,
        description="Legacy: the plain code that events recorded before tokens carry.",
    )


@registry.register
class PaymentCaptureRequested(_PaymentEvent, type_name="PaymentCaptureRequested", version=1):
    """Part of an authorised payment is due: ``amount`` pays for shipment ``shipment_id``."""

    shipment_id: Id


@registry.register
class PaymentCancellationRequested(
    _PaymentEvent, type_name="PaymentCancellationRequested", version=1
):
    """The order was cancelled: release what is authorised and refund what was captured."""

    reason: Text


@registry.register
class PaymentRefundRequested(_PaymentEvent, type_name="PaymentRefundRequested", version=1):
    """A refund of ``amount`` was asked for (by staff over HTTP, or for a return)."""

    refund_id: Id
    reason: Text
    return_id: Id | None = None


@registry.register
class PaymentReleaseRequested(_PaymentEvent, type_name="PaymentReleaseRequested", version=1):
    """Part of an authorised payment will never be captured: release ``amount`` of it.

    The provider worker voids that much of the authorisation (a gift card is credited
    back); the rest stays authorised. ``release_id`` is unique within the payment.
    """

    release_id: Id
    reason: Text


@registry.register
class OrderBillingOpened(Event, type_name="OrderBillingOpened", version=1):
    """Payments took on a placed order: what it owes and which payments pay for it."""

    order_id: Id
    customer_email: Email
    lines: tuple[OrderLine, ...] = Field(min_length=1, max_length=MAX_LINES)
    shipping_charge: Money
    payments: tuple[Payment, ...] = Field(min_length=1, max_length=MAX_PAYMENTS)

    @model_validator(mode="after")
    def _amounts(self) -> OrderBillingOpened:
        check_order_amounts(self.lines, self.shipping_charge, self.payments)
        return self


@registry.register
class OrderBillingCancelled(Event, type_name="OrderBillingCancelled", version=1):
    """The order was cancelled; none of its payments may be authorised or captured any more.

    May come before ``OrderBillingOpened`` when the cancellation was handled first.
    """

    order_id: Id
    reason: Text


class BilledPayment(ContractModel):
    """The part of a shipment's value that one payment pays."""

    payment_id: Id
    method: PaymentMethod
    amount: Money


@registry.register
class ShipmentBilled(Event, type_name="ShipmentBilled", version=1):
    """The value of a dispatched shipment and which payments pay for it.

    ``amount`` is the value of the shipped lines plus, for the order's first shipment, its
    shipping charge (``shipping_charge``). Payments paid up front cover a shipment first,
    then gift cards, then the other methods in the order's sequence; cash on delivery last.
    """

    order_id: Id
    shipment_id: Id
    lines: tuple[SkuQuantity, ...] = Field(min_length=1, max_length=MAX_LINES)
    amount: Money
    shipping_charge: Money
    payments: tuple[BilledPayment, ...] = Field(default=(), max_length=MAX_PAYMENTS)


class _GiftCardEvent(Event):
    """A gift card's event: the card is named by its token (``card``), never by its code.

    ``code`` is what events recorded before codes became secrets carry instead; no producer
    writes it any more. Exactly one of the two is set.
    """

    card: GiftCardToken | None = None
    code: Id | None = Field(
        default=None,
        description="Legacy: the plain code of events recorded before tokens.",
    )

    @model_validator(mode="after")
    def _one_card(self) -> Self:
        if (self.card is None) == (self.code is None):
            raise ValueError("a gift card event names its card by token (card), exactly once")
        return self


@registry.register
class GiftCardIssued(_GiftCardEvent, type_name="GiftCardIssued", version=1):
    """A gift card was issued with a starting balance."""

    balance: Money


@registry.register
class GiftCardDebited(_GiftCardEvent, type_name="GiftCardDebited", version=1):
    """``amount`` of a gift card's balance was taken for a payment; ``balance`` is what is left."""

    amount: Money
    balance: Money
    order_id: Id
    payment_id: Id


@registry.register
class GiftCardCredited(_GiftCardEvent, type_name="GiftCardCredited", version=1):
    """``amount`` went back onto a gift card (a void or refund); ``balance`` is the new one."""

    amount: Money
    balance: Money
    order_id: Id
    payment_id: Id
    reason: Text


@registry.register
class UnitsWaived(Event, type_name="UnitsWaived", version=1):
    """Units of the order that will not ship and will not be charged (a short pick the shop
    refunds), one fulfilment's worth; ``amount`` is their value at the order's prices.

    Once every ordered unit is either billed or waived, what each payment has left
    unbilled is released (``PaymentReleaseRequested``, or a refund for a payment
    captured up front).
    """

    order_id: Id
    fulfilment_id: Id
    lines: tuple[SkuQuantity, ...] = Field(min_length=1, max_length=MAX_LINES)
    amount: Money


@registry.register
class ShipmentBillingReversed(Event, type_name="ShipmentBillingReversed", version=1):
    """A dispatched parcel was lost or came back: what its payments paid is paid back.

    May come before the shipment's ``ShipmentBilled`` (the failure reached payments
    first); the shipment is then reversed as soon as it is billed.
    """

    order_id: Id
    shipment_id: Id
    failure: ShipmentFailure
