"""Commands the payments deciders decide on (imperative: what someone asks to happen).

``Request...`` commands record work for the provider worker; ``Record...`` commands record
what a provider answered (the call itself happened outside the domain).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from oms_events.contracts import DeclineReason, OrderLine, Payment, SkuQuantity
from oms_events.contracts.order import ShipmentFailure
from oms_events.contracts.returns import MethodRefund
from oms_events.money import Money

# -- billing (the order's stream plus its payments' states) ------------------------------


@dataclass(frozen=True, slots=True)
class OpenBilling:
    """Take on a placed order: remember what it owes and request each payment."""

    order_id: str
    customer_email: str
    lines: tuple[OrderLine, ...]
    shipping_charge: Money
    payments: tuple[Payment, ...]


@dataclass(frozen=True, slots=True)
class CancelBilling:
    """The order was cancelled: release every payment of it."""

    order_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class BillShipment:
    """A shipment left the warehouse: bill its value to the order's payments."""

    order_id: str
    shipment_id: str
    lines: tuple[SkuQuantity, ...]


@dataclass(frozen=True, slots=True)
class CollectOnDelivery:
    """A shipment was delivered: the courier collected its cash-on-delivery share."""

    order_id: str
    shipment_id: str


@dataclass(frozen=True, slots=True)
class WaiveUnits:
    """Units of a fulfilment will not ship and are not charged (a short pick, refunded)."""

    order_id: str
    fulfilment_id: str
    missing: tuple[SkuQuantity, ...]


@dataclass(frozen=True, slots=True)
class ReverseShipment:
    """A dispatched parcel was lost or came back: pay back what its payments paid."""

    order_id: str
    shipment_id: str
    failure: ShipmentFailure


@dataclass(frozen=True, slots=True)
class RefundReturn:
    """A return was resolved: pay back each payment's part of its refund."""

    order_id: str
    return_id: str
    refunds: tuple[MethodRefund, ...]


BillingCommand = (
    OpenBilling
    | CancelBilling
    | BillShipment
    | CollectOnDelivery
    | WaiveUnits
    | ReverseShipment
    | RefundReturn
)

# -- one payment -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordAuthorization:
    """The provider approved the whole amount (and, if ``captured``, collected it too)."""

    provider: str
    reference: str
    captured: bool = False


@dataclass(frozen=True, slots=True)
class RecordDecline:
    """The provider (or the gift card) refused the payment."""

    reason: DeclineReason
    message: str | None = None


@dataclass(frozen=True, slots=True)
class PreventAuthorization:
    """The order was cancelled before any provider was asked: it never will be."""

    reason: str


@dataclass(frozen=True, slots=True)
class RequestCancellation:
    """The order was cancelled: ask for the payment to be released."""

    reason: str


@dataclass(frozen=True, slots=True)
class RequestCapture:
    """Schedule the capture of ``amount`` for a shipment (once per shipment)."""

    shipment_id: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class RequestRelease:
    """Schedule the release of ``amount`` of the authorization (once per ``release_id``)."""

    release_id: str
    amount: Decimal
    reason: str


@dataclass(frozen=True, slots=True)
class RecordCapture:
    """The provider collected what was requested for ``shipment_id``."""

    shipment_id: str
    reference: str


@dataclass(frozen=True, slots=True)
class RecordVoid:
    """The provider released everything still authorized and not captured, or, with a
    ``release_id``, the amount of that requested release."""

    reference: str
    release_id: str | None = None


@dataclass(frozen=True, slots=True)
class RequestRefund:
    """Ask for ``amount`` of what was captured to be paid back.

    ``currency`` is None when the caller gave a plain amount in the payment's currency;
    the same ``refund_id`` with the same amount is the same request (nothing new).
    ``shipment_id`` names the shipment whose share is paid back (a lost parcel): its
    capture, if requested and not yet done, counts as captured (the worker captures it
    before it refunds, the requests being in that order).
    """

    payment_id: str
    refund_id: str
    amount: Decimal
    reason: str
    currency: str | None = None
    return_id: str | None = None
    shipment_id: str | None = None


@dataclass(frozen=True, slots=True)
class RecordRefund:
    """The provider paid ``amount`` back (a requested refund, or a cancellation's)."""

    refund_id: str
    amount: Decimal
    reference: str
    reason: str
    return_id: str | None = None


PaymentCommand = (
    RecordAuthorization
    | RecordDecline
    | PreventAuthorization
    | RequestCancellation
    | RequestCapture
    | RequestRelease
    | RecordCapture
    | RecordVoid
    | RequestRefund
    | RecordRefund
)

# -- one gift card -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssueGiftCard:
    """Issue the card whose token is ``card`` (the API hashed its code) with ``balance``."""

    card: str
    balance: Money


@dataclass(frozen=True, slots=True)
class DebitGiftCard:
    """Take ``amount`` for a payment; refused rather than overdraw."""

    amount: Money
    order_id: str
    payment_id: str


@dataclass(frozen=True, slots=True)
class CreditGiftCard:
    """Put ``amount`` back; never more than the payment took from this card."""

    amount: Decimal
    order_id: str
    payment_id: str
    reason: str


GiftCardCommand = IssueGiftCard | DebitGiftCard | CreditGiftCard
