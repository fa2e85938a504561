"""``ops_payments``: one row per payment, from the payments service's events.

Captures, (partial) voids and refunds can each happen several times per payment, so the
row keeps their sums; each event is added once because the consumer's inbox applies each
event once, and a rebuild starts from empty tables. The status is derived from what
happened (:func:`status`), not from the last event, so it never depends on the order
in which the events arrived.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from oms_events.base import Event
from oms_events.contracts.payments import (
    PaymentAuthorizationRequested,
    PaymentAuthorized,
    PaymentCancelled,
    PaymentCaptured,
    PaymentDeclined,
    PaymentVoided,
    RefundIssued,
)
from oms_events.envelope import Envelope

PaymentEvent = (
    PaymentAuthorizationRequested
    | PaymentAuthorized
    | PaymentDeclined
    | PaymentCaptured
    | PaymentVoided
    | RefundIssued
    | PaymentCancelled
)
HANDLED: tuple[type[Event], ...] = PaymentEvent.__args__

STATUSES = (
    "requested",
    "authorized",
    "declined",
    "cancelled",
    "voided",
    "captured",
    "partially_refunded",
    "refunded",
)
ZERO = Decimal(0)


@dataclass(frozen=True)
class PaymentRow:
    payment_id: str
    order_id: str
    method: str
    currency: str
    status: str = "requested"
    amount: Decimal | None = None
    """Asked for when the authorisation was requested."""
    authorized: Decimal = ZERO
    captured: Decimal = ZERO
    refunded: Decimal = ZERO
    voided: Decimal = ZERO
    declined: bool = False
    cancelled: bool = False
    decline_reason: str | None = None
    requested_at: datetime | None = None
    authorized_at: datetime | None = None


def status(row: PaymentRow) -> str:
    """What the payment is now: refunded (all captured paid back) or partially refunded,
    else captured, else voided (all authorised released), else authorized, else declined
    or cancelled (never authorised), else requested."""
    if row.refunded > 0:
        return "refunded" if row.refunded >= row.captured else "partially_refunded"
    if row.captured > 0:
        return "captured"
    if row.authorized > 0:
        return "voided" if row.voided >= row.authorized else "authorized"
    if row.declined:
        return "declined"
    if row.cancelled:
        return "cancelled"
    return "requested"


def _earliest(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b < a else a


def apply(row: PaymentRow | None, env: Envelope, event: Event) -> PaymentRow | None:
    """The payment's row after ``event`` (every handled event has the payment's fields)."""
    if not isinstance(event, PaymentEvent):
        return row
    row = row or PaymentRow(
        payment_id=event.payment_id,
        order_id=event.order_id,
        method=event.method.value,
        currency=event.amount.currency,
    )
    amount = event.amount.amount
    match event:
        case PaymentAuthorizationRequested():
            first = _earliest(row.requested_at, env.occurred_at)
            row = replace(row, amount=amount, requested_at=first)
        case PaymentAuthorized():
            row = replace(
                row,
                authorized=row.authorized + amount,
                authorized_at=_earliest(row.authorized_at, env.occurred_at),
            )
        case PaymentDeclined():
            row = replace(row, declined=True, decline_reason=event.reason.value)
        case PaymentCaptured():
            row = replace(row, captured=row.captured + amount)
        case PaymentVoided():
            row = replace(row, voided=row.voided + amount)
        case RefundIssued():
            row = replace(row, refunded=row.refunded + amount)
        case PaymentCancelled():
            row = replace(row, cancelled=True)
    return replace(row, status=status(row))
