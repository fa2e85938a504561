"""One payment of an order: its state, how events change it, and what may happen next.

A payment is requested when its order is placed, then authorised (and, for methods paid up
front, captured at once), declined, or cancelled before it was authorised. An authorised
payment is captured in parts (one per shipment), its remainder voided when the order is
cancelled, and what was captured can be refunded in parts. The invariants:
captured + voided never exceed what was authorised, refunds never exceed what was captured.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import TypedDict

from oms_events.base import Event
from oms_events.contracts import (
    DeclineReason,
    PaymentAuthorizationRequested,
    PaymentAuthorized,
    PaymentCancellationRequested,
    PaymentCancelled,
    PaymentCaptured,
    PaymentCaptureRequested,
    PaymentDeclined,
    PaymentMethod,
    PaymentRefundRequested,
    PaymentVoided,
    RefundIssued,
)
from oms_events.money import Money
from oms_payments.domain.errors import AmountExceeded, NotFound, Refused

ZERO = Decimal(0)
UP_FRONT = ""
"""The capture key of a payment captured at order time (it pays for no one shipment)."""


class Phase(StrEnum):
    """Where a payment stands with its provider."""

    NEW = "new"
    REQUESTED = "requested"
    AUTHORISED = "authorised"
    DECLINED = "declined"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class PaymentState:
    """Everything decisions about one payment need, folded from its stream."""

    payment_id: str = ""
    order_id: str = ""
    method: PaymentMethod = PaymentMethod.CARD
    currency: str = "EUR"
    amount: Decimal = ZERO
    customer_email: str = ""
    gift_card_code: str | None = None
    phase: Phase = Phase.NEW
    provider: str | None = None
    reference: str | None = None
    decline: str | None = None
    cancellation: str | None = None
    """Why the order was cancelled, once it was: nothing more may be authorised or captured."""
    authorised: Decimal = ZERO
    captured: Decimal = ZERO
    voided: Decimal = ZERO
    refunded: Decimal = ZERO
    captures_requested: Mapping[str, Decimal] = field(default_factory=dict)
    """Shipment id (``UP_FRONT`` for order time) -> amount due for it."""
    captured_for: frozenset[str] = frozenset()
    refunds_requested: Mapping[str, Decimal] = field(default_factory=dict)
    """Refund id -> amount, for every refund asked for (issued or not)."""
    refunds_issued: frozenset[str] = frozenset()

    @property
    def exists(self) -> bool:
        return self.phase is not Phase.NEW

    @property
    def open_authorisation(self) -> Decimal:
        """Authorised and neither captured nor voided: what a capture or void may take."""
        return self.authorised - self.captured - self.voided

    @property
    def uncommitted_authorisation(self) -> Decimal:
        """Authorised and not yet promised to any capture request or void."""
        return self.authorised - self.voided - sum(self.captures_requested.values(), ZERO)

    @property
    def refundable(self) -> Decimal:
        """Captured and not yet promised to any refund (issued or still to issue)."""
        return self.captured - sum(self.refunds_requested.values(), ZERO)

    def money(self, amount: Decimal) -> Money:
        return Money(amount=amount, currency=self.currency)

    def _fields(self) -> _Ids:
        return {"order_id": self.order_id, "payment_id": self.payment_id, "method": self.method}


class _Ids(TypedDict):
    order_id: str
    payment_id: str
    method: PaymentMethod


def evolve(state: PaymentState, event: Event) -> PaymentState:
    """The payment after ``event``; events of other kinds leave it unchanged."""
    match event:
        case PaymentAuthorizationRequested():
            return replace(
                state,
                payment_id=event.payment_id,
                order_id=event.order_id,
                method=event.method,
                currency=event.amount.currency,
                amount=event.amount.amount,
                customer_email=event.customer_email,
                gift_card_code=event.gift_card_code,
                phase=Phase.REQUESTED,
            )
        case PaymentAuthorized():
            return replace(
                state,
                phase=Phase.AUTHORISED,
                provider=event.provider,
                reference=event.provider_reference,
                authorised=state.authorised + event.amount.amount,
            )
        case PaymentDeclined():
            return replace(state, phase=Phase.DECLINED, decline=event.reason.value)
        case PaymentCancelled():
            return replace(state, phase=Phase.CANCELLED)
        case PaymentCancellationRequested():
            return replace(state, cancellation=event.reason)
        case PaymentCaptureRequested():
            requested = {**state.captures_requested, event.shipment_id: event.amount.amount}
            return replace(state, captures_requested=MappingProxyType(requested))
        case PaymentCaptured():
            key = event.shipment_id or UP_FRONT
            requested = dict(state.captures_requested)
            requested.setdefault(key, event.amount.amount)
            return replace(
                state,
                captured=state.captured + event.amount.amount,
                captures_requested=MappingProxyType(requested),
                captured_for=state.captured_for | {key},
            )
        case PaymentVoided():
            return replace(state, voided=state.voided + event.amount.amount)
        case PaymentRefundRequested():
            requested = {**state.refunds_requested, event.refund_id: event.amount.amount}
            return replace(state, refunds_requested=MappingProxyType(requested))
        case RefundIssued():
            requested = dict(state.refunds_requested)
            requested.setdefault(event.refund_id, event.amount.amount)
            return replace(
                state,
                refunded=state.refunded + event.amount.amount,
                refunds_requested=MappingProxyType(requested),
                refunds_issued=state.refunds_issued | {event.refund_id},
            )
    return state


# -- decisions ---------------------------------------------------------------------------


def authorised(
    state: PaymentState, *, provider: str, reference: str, captured: bool
) -> list[Event]:
    """The provider approved the whole amount (and, if ``captured``, collected it too)."""
    _require_phase(state, Phase.REQUESTED, "authorise")
    amount = state.money(state.amount)
    events: list[Event] = [
        PaymentAuthorized(
            **state._fields(), amount=amount, provider=provider, provider_reference=reference
        )
    ]
    if captured:
        events.append(
            PaymentCaptured(
                **state._fields(), amount=amount, shipment_id=None, provider_reference=reference
            )
        )
    return events


def declined(state: PaymentState, reason: DeclineReason, message: str | None) -> list[Event]:
    _require_phase(state, Phase.REQUESTED, "decline")
    return [
        PaymentDeclined(
            **state._fields(),
            amount=state.money(state.amount),
            reason=reason,
            provider_message=message[:2000] if message else None,
        )
    ]


def prevented(state: PaymentState) -> list[Event]:
    """The order was cancelled before this payment was authorised: it never will be."""
    _require_phase(state, Phase.REQUESTED, "cancel")
    reason = f"order cancelled before authorisation: {state.cancellation or 'cancelled'}"
    return [PaymentCancelled(**state._fields(), amount=state.money(state.amount), reason=reason)]


def request_cancellation(state: PaymentState, reason: str) -> list[Event]:
    """Ask for the payment to be released; nothing to do once declined or cancelled."""
    if state.phase in (Phase.NEW, Phase.DECLINED, Phase.CANCELLED) or state.cancellation:
        return []
    return [
        PaymentCancellationRequested(
            **state._fields(), amount=state.money(state.amount), reason=reason
        )
    ]


def request_capture(state: PaymentState, shipment_id: str, amount: Decimal) -> list[Event]:
    """Schedule the capture of ``amount`` for a shipment (once per shipment)."""
    if shipment_id in state.captures_requested:
        return []
    _require_phase(state, Phase.AUTHORISED, "capture")
    if state.cancellation:
        raise Refused(f"payment {state.payment_id}: the order was cancelled")
    if amount > state.uncommitted_authorisation:
        raise AmountExceeded(
            f"payment {state.payment_id}: capturing {amount} would exceed the "
            f"{state.uncommitted_authorisation} {state.currency} left of the authorisation"
        )
    return [
        PaymentCaptureRequested(
            **state._fields(), amount=state.money(amount), shipment_id=shipment_id
        )
    ]


def capture_due(state: PaymentState, shipment_id: str) -> Decimal:
    """What to capture now for ``shipment_id``: zero once done; raises if it may not be."""
    if shipment_id in state.captured_for:
        return ZERO
    if shipment_id not in state.captures_requested:
        raise NotFound(f"payment {state.payment_id}: no capture requested for {shipment_id}")
    _require_phase(state, Phase.AUTHORISED, "capture")
    amount = state.captures_requested[shipment_id]
    if amount > state.open_authorisation:
        raise AmountExceeded(
            f"payment {state.payment_id}: capturing {amount} would exceed the "
            f"{state.open_authorisation} {state.currency} still authorised"
        )
    return amount


def captured(state: PaymentState, shipment_id: str, reference: str) -> list[Event]:
    """The provider collected what was requested for ``shipment_id``."""
    amount = capture_due(state, shipment_id)
    if not amount:
        return []
    return [
        PaymentCaptured(
            **state._fields(),
            amount=state.money(amount),
            shipment_id=shipment_id,
            provider_reference=reference,
        )
    ]


def voided(state: PaymentState, reference: str) -> list[Event]:
    """The provider released everything still authorised and not captured."""
    if state.phase is not Phase.AUTHORISED or state.open_authorisation <= 0:
        return []
    return [
        PaymentVoided(
            **state._fields(),
            amount=state.money(state.open_authorisation),
            provider_reference=reference,
        )
    ]


def request_refund(
    state: PaymentState,
    refund_id: str,
    amount: Decimal,
    reason: str,
    return_id: str | None = None,
) -> list[Event]:
    """Ask for ``amount`` of what was captured to be paid back."""
    if not state.exists:
        raise NotFound(f"payment {state.payment_id} is unknown")
    if refund_id in state.refunds_requested:
        return []
    if amount <= 0:
        raise Refused("a refund must be more than zero")
    if amount > state.refundable:
        raise AmountExceeded(
            f"payment {state.payment_id}: refunding {amount} would exceed the "
            f"{state.refundable} {state.currency} captured and not yet refunded"
        )
    return [
        PaymentRefundRequested(
            **state._fields(),
            amount=state.money(amount),
            refund_id=refund_id,
            reason=reason,
            return_id=return_id,
        )
    ]


def refund_allowed(state: PaymentState, refund_id: str, amount: Decimal) -> bool:
    """False once ``refund_id`` was issued; raises if ``amount`` may not be refunded."""
    if refund_id in state.refunds_issued:
        return False
    others = sum((a for r, a in state.refunds_requested.items() if r != refund_id), ZERO)
    if amount > state.captured - others:
        raise AmountExceeded(
            f"payment {state.payment_id}: refunding {amount} would exceed the "
            f"{state.captured - others} {state.currency} captured and not refunded"
        )
    return True


def refunded(
    state: PaymentState,
    refund_id: str,
    amount: Decimal,
    reference: str,
    reason: str,
    return_id: str | None = None,
) -> list[Event]:
    """The provider paid ``amount`` back (a requested refund, or a cancellation's refund)."""
    if not refund_allowed(state, refund_id, amount):
        return []
    return [
        RefundIssued(
            **state._fields(),
            amount=state.money(amount),
            refund_id=refund_id,
            return_id=return_id,
            provider_reference=reference,
            reason=reason,
        )
    ]


def _require_phase(state: PaymentState, phase: Phase, action: str) -> None:
    if not state.exists:
        raise NotFound(f"payment {state.payment_id or '?'} is unknown")
    if state.phase is not phase:
        raise Refused(f"cannot {action} payment {state.payment_id}: it is {state.phase.value}")
