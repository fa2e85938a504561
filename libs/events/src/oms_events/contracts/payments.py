"""Contracts published by the payments service on ``oms.payments.events``.

An order may be paid with several payments (e.g. a gift card plus a card); each one has its
own ``payment_id`` and its own authorisation, capture, void and refund events.
"""

from __future__ import annotations

from enum import StrEnum

from oms_events.base import Event
from oms_events.contracts.common import Id, Name, PaymentMethod, Text
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
    """An authorisation was released without capturing (the order was cancelled)."""

    provider_reference: Id


@registry.register
class PaymentCaptured(_PaymentEvent, type_name="PaymentCaptured", version=1):
    """Authorised money was collected, triggered by the dispatch of a shipment."""

    shipment_id: Id
    provider_reference: Id


@registry.register
class RefundIssued(_PaymentEvent, type_name="RefundIssued", version=1):
    """Money was paid back to the customer for a received return.

    ``amount`` is the refunded amount, not the original payment's.
    """

    refund_id: Id
    return_id: Id
    provider_reference: Id
