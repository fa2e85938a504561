"""One payment of an order: its state, how events change it, and what may happen next.

A payment is requested when its order is placed, then authorized (and, for methods paid up
front, captured at once), declined, or cancelled before it was authorized. An authorized
payment is captured in parts (one per shipment), its remainder voided when the order is
cancelled, and what was captured can be refunded in parts. Part of an authorization
the order will never use (the unshipped share of a short pick, the cash-on-delivery share
of a parcel that never arrived) is released on request (``RequestRelease``, a partial void)
while the rest stays authorized. The invariants: captured + voided never exceed what was
authorized, refunds never exceed what was captured.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import TypedDict, assert_never

from oms_events.base import Event
from oms_events.contracts import (
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
from oms_events.contracts.payments import PaymentReleaseRequested
from oms_events.money import Money, minor_units
from oms_payments.domain.commands import (
    PaymentCommand,
    PreventAuthorization,
    RecordAuthorization,
    RecordCapture,
    RecordDecline,
    RecordRefund,
    RecordVoid,
    RequestCancellation,
    RequestCapture,
    RequestRefund,
    RequestRelease,
)
from oms_platform.decider import Decision
from oms_platform.refusal import Refusal

ZERO = Decimal(0)
UP_FRONT = ""
"""The capture key of a payment captured at order time (it pays for no one shipment)."""

PAYMENT_EVENTS: tuple[type[Event], ...] = (
    PaymentAuthorizationRequested,
    PaymentAuthorized,
    PaymentDeclined,
    PaymentCancelled,
    PaymentCancellationRequested,
    PaymentCaptureRequested,
    PaymentCaptured,
    PaymentReleaseRequested,
    PaymentVoided,
    PaymentRefundRequested,
    RefundIssued,
)
"""The events of a payment's own stream."""


class Phase(StrEnum):
    """Where a payment stands with its provider."""

    NEW = "new"
    REQUESTED = "requested"
    AUTHORIZED = "authorized"
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
    gift_card: str | None = None
    """The gift card's token, for method gift_card."""
    phase: Phase = Phase.NEW
    provider: str | None = None
    reference: str | None = None
    decline: str | None = None
    cancellation: str | None = None
    """Why the order was cancelled, once it was: nothing more may be authorized or captured."""
    authorized: Decimal = ZERO
    captured: Decimal = ZERO
    voided: Decimal = ZERO
    refunded: Decimal = ZERO
    captures_requested: Mapping[str, Decimal] = field(default_factory=dict)
    """Shipment id (``UP_FRONT`` for order time) -> amount due for it."""
    captured_for: frozenset[str] = frozenset()
    refunds_requested: Mapping[str, Decimal] = field(default_factory=dict)
    """Refund id -> amount, for every refund asked for (issued or not)."""
    refunds_issued: frozenset[str] = frozenset()
    releases_requested: Mapping[str, Decimal] = field(default_factory=dict)
    """Release id -> amount, for every partial release asked for (done or not)."""
    released: frozenset[str] = frozenset()

    @property
    def exists(self) -> bool:
        return self.phase is not Phase.NEW

    @property
    def open_authorization(self) -> Decimal:
        """Authorized and neither captured nor voided: what a capture or void may take."""
        return self.authorized - self.captured - self.voided

    @property
    def uncommitted_authorization(self) -> Decimal:
        """Authorized and not yet promised to any capture request, release or void."""
        captures = sum(self.captures_requested.values(), ZERO)
        return self.authorized - self.voided - captures - self.release_pending

    @property
    def release_pending(self) -> Decimal:
        """Releases asked for and not yet done."""
        return sum((a for r, a in self.releases_requested.items() if r not in self.released), ZERO)

    def capture_pending(self, shipment_id: str) -> Decimal:
        """What a requested capture for ``shipment_id`` will collect (zero once done)."""
        if shipment_id in self.captured_for:
            return ZERO
        return self.captures_requested.get(shipment_id, ZERO)

    @property
    def refundable(self) -> Decimal:
        """Captured and not yet promised to any refund (issued or still to issue)."""
        return self.captured - sum(self.refunds_requested.values(), ZERO)

    @property
    def refund_pending(self) -> Decimal:
        """Refunds asked for and not yet paid."""
        return sum(self.refunds_requested.values(), ZERO) - self.refunded

    def money(self, amount: Decimal) -> Money:
        return Money(amount=amount, currency=self.currency)

    def ids(self) -> _Ids:
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
                gift_card=event.gift_card,
                phase=Phase.REQUESTED,
            )
        case PaymentAuthorized():
            return replace(
                state,
                phase=Phase.AUTHORIZED,
                provider=event.provider,
                reference=event.provider_reference,
                authorized=state.authorized + event.amount.amount,
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
        case PaymentReleaseRequested():
            requested = {**state.releases_requested, event.release_id: event.amount.amount}
            return replace(state, releases_requested=MappingProxyType(requested))
        case PaymentVoided():
            released = state.released | {event.release_id} if event.release_id else state.released
            return replace(state, voided=state.voided + event.amount.amount, released=released)
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


def decide(command: PaymentCommand, state: PaymentState) -> Decision:
    """The events ``command`` produces on this payment, or a :class:`Refusal`."""
    match command:
        case RecordAuthorization():
            return _authorized(command, state)
        case RecordDecline():
            _require_phase(state, Phase.REQUESTED, "decline")
            # A provider's words are quoted, never trusted: no control characters.
            message = _printable(command.message)[:2000] if command.message else None
            return [
                PaymentDeclined(
                    **state.ids(),
                    amount=state.money(state.amount),
                    reason=command.reason,
                    provider_message=message,
                )
            ]
        case PreventAuthorization():
            _require_phase(state, Phase.REQUESTED, "cancel")
            reason = f"order cancelled before authorization: {command.reason}"[:2000]
            return [
                PaymentCancelled(**state.ids(), amount=state.money(state.amount), reason=reason)
            ]
        case RequestCancellation():
            return _request_cancellation(command, state)
        case RequestCapture():
            return _request_capture(command, state)
        case RequestRelease():
            return _request_release(command, state)
        case RecordCapture():
            amount = capture_due(state, command.shipment_id)
            if not amount:
                return []
            return [
                PaymentCaptured(
                    **state.ids(),
                    amount=state.money(amount),
                    shipment_id=command.shipment_id,
                    provider_reference=command.reference,
                )
            ]
        case RecordVoid():
            if command.release_id is not None:
                amount = release_due(state, command.release_id)
            elif state.phase is Phase.AUTHORIZED:
                amount = max(state.open_authorization, ZERO)
            else:
                amount = ZERO
            if not amount:
                return []
            return [
                PaymentVoided(
                    **state.ids(),
                    amount=state.money(amount),
                    provider_reference=command.reference,
                    release_id=command.release_id,
                )
            ]
        case RequestRefund():
            return _request_refund(command, state)
        case RecordRefund():
            if not refund_due(state, command.refund_id, command.amount):
                return []
            return [
                RefundIssued(
                    **state.ids(),
                    amount=state.money(command.amount),
                    refund_id=command.refund_id,
                    return_id=command.return_id,
                    provider_reference=command.reference,
                    reason=command.reason,
                )
            ]
        case _:
            assert_never(command)


class PaymentDecider:
    """One payment (stream ``payment-<payment id>``) as a :class:`~oms_platform.decider.Decider`."""

    def initial_state(self) -> PaymentState:
        return PaymentState()

    def evolve(self, state: PaymentState, event: Event) -> PaymentState:
        return evolve(state, event)

    def decide(self, command: PaymentCommand, state: PaymentState) -> Decision:
        return decide(command, state)


payment_decider = PaymentDecider()


# -- what is due (asked by the worker before it calls a provider) ------------------------


def capture_due(state: PaymentState, shipment_id: str) -> Decimal:
    """What to capture now for ``shipment_id``: zero once done; refused if it may not be."""
    if shipment_id in state.captured_for:
        return ZERO
    if shipment_id not in state.captures_requested:
        raise Refusal.not_found(
            "capture_not_requested",
            f"payment {state.payment_id}: no capture was requested for {shipment_id}",
        )
    _require_phase(state, Phase.AUTHORIZED, "capture")
    amount = state.captures_requested[shipment_id]
    if amount > state.open_authorization:
        raise _exceeded(
            f"payment {state.payment_id}: capturing {amount} would exceed the "
            f"{state.open_authorization} {state.currency} still authorized"
        )
    return amount


def release_due(state: PaymentState, release_id: str) -> Decimal:
    """What to release now for ``release_id``: zero once done, or once a cancellation has
    released everything; refused if it was never requested or exceeds the authorization."""
    if release_id in state.released:
        return ZERO
    if release_id not in state.releases_requested:
        raise Refusal.not_found(
            "release_not_requested",
            f"payment {state.payment_id}: no release {release_id} was requested",
        )
    if state.phase is not Phase.AUTHORIZED:
        return ZERO
    amount = state.releases_requested[release_id]
    if amount > state.open_authorization:
        if state.cancellation:
            return ZERO  # the cancellation's void released it with the rest
        raise _exceeded(
            f"payment {state.payment_id}: releasing {amount} would exceed the "
            f"{state.open_authorization} {state.currency} still authorized"
        )
    return amount


def refund_due(state: PaymentState, refund_id: str, amount: Decimal) -> bool:
    """False once ``refund_id`` was issued; refused if ``amount`` may not be refunded."""
    if refund_id in state.refunds_issued:
        return False
    others = sum((a for r, a in state.refunds_requested.items() if r != refund_id), ZERO)
    if amount > state.captured - others:
        raise _exceeded(
            f"payment {state.payment_id}: refunding {amount} would exceed the "
            f"{state.captured - others} {state.currency} captured and not refunded"
        )
    return True


# -- decisions ---------------------------------------------------------------------------


def _authorized(command: RecordAuthorization, state: PaymentState) -> Decision:
    _require_phase(state, Phase.REQUESTED, "authorize")
    amount = state.money(state.amount)
    events: Decision = [
        PaymentAuthorized(
            **state.ids(),
            amount=amount,
            provider=command.provider,
            provider_reference=command.reference,
        )
    ]
    if command.captured:
        events.append(
            PaymentCaptured(
                **state.ids(),
                amount=amount,
                shipment_id=None,
                provider_reference=command.reference,
            )
        )
    return events


def _request_cancellation(command: RequestCancellation, state: PaymentState) -> Decision:
    """Nothing to release once declined or cancelled, or when it was asked already."""
    if state.phase in (Phase.NEW, Phase.DECLINED, Phase.CANCELLED) or state.cancellation:
        return []
    return [
        PaymentCancellationRequested(
            **state.ids(), amount=state.money(state.amount), reason=command.reason
        )
    ]


def _request_capture(command: RequestCapture, state: PaymentState) -> Decision:
    if command.shipment_id in state.captures_requested:
        return []
    _require_phase(state, Phase.AUTHORIZED, "capture")
    if state.cancellation:
        raise Refusal("order_cancelled", f"payment {state.payment_id}: the order was cancelled")
    if command.amount > state.uncommitted_authorization:
        raise _exceeded(
            f"payment {state.payment_id}: capturing {command.amount} would exceed the "
            f"{state.uncommitted_authorization} {state.currency} left of the authorization"
        )
    return [
        PaymentCaptureRequested(
            **state.ids(), amount=state.money(command.amount), shipment_id=command.shipment_id
        )
    ]


def _request_release(command: RequestRelease, state: PaymentState) -> Decision:
    """Nothing to release once cancelled (the cancellation releases it all) or asked already."""
    if command.release_id in state.releases_requested or state.cancellation:
        return []
    if command.amount <= 0:
        return []
    _require_phase(state, Phase.AUTHORIZED, "release")
    if command.amount > state.uncommitted_authorization:
        raise _exceeded(
            f"payment {state.payment_id}: releasing {command.amount} would exceed the "
            f"{state.uncommitted_authorization} {state.currency} left of the authorization"
        )
    return [
        PaymentReleaseRequested(
            **state.ids(),
            amount=state.money(command.amount),
            release_id=command.release_id,
            reason=command.reason[:2000],
        )
    ]


def _request_refund(command: RequestRefund, state: PaymentState) -> Decision:
    if not state.exists:
        raise Refusal.not_found("not_found", f"payment {command.payment_id} is unknown")
    if command.currency is not None and command.currency != state.currency:
        raise Refusal(
            "refused",
            f"payment {state.payment_id} is in {state.currency}, not {command.currency}",
            "amount.currency",
        )
    earlier = state.refunds_requested.get(command.refund_id)
    if earlier is not None:
        if earlier != command.amount:
            raise Refusal(
                "refused",
                f"refund {command.refund_id} was already requested for {earlier} {state.currency}",
            )
        return []
    _check_amount(command.amount, state.currency)
    refundable = state.refundable
    if command.shipment_id is not None:
        refundable += state.capture_pending(command.shipment_id)
    if command.amount > refundable:
        raise _exceeded(
            f"payment {state.payment_id}: refunding {command.amount} would exceed the "
            f"{refundable} {state.currency} captured and not yet refunded",
            "amount",
        )
    return [
        PaymentRefundRequested(
            **state.ids(),
            amount=state.money(command.amount),
            refund_id=command.refund_id,
            reason=command.reason,
            return_id=command.return_id,
        )
    ]


def _check_amount(amount: Decimal, currency: str) -> None:
    """A plain amount is given in the payment's currency: hold it to that currency's scale."""
    if amount <= 0:
        raise Refusal.invalid("invalid_amount", "a refund must be more than zero", "amount")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > minor_units(currency):
        raise Refusal.invalid(
            "invalid_amount",
            f"{currency} amounts have at most {minor_units(currency)} decimal places",
            "amount",
        )


def _exceeded(reason: str, field: str | None = None) -> Refusal:
    return Refusal("amount_exceeded", reason, field)


def _require_phase(state: PaymentState, phase: Phase, action: str) -> None:
    if not state.exists:
        raise Refusal.not_found("not_found", f"payment {state.payment_id or '?'} is unknown")
    if state.phase is not phase:
        raise Refusal(
            "refused", f"cannot {action} payment {state.payment_id}: it is {state.phase.value}"
        )


def _printable(text: str) -> str:
    """``text`` with control characters (which contracts refuse) replaced by spaces."""
    return "".join(" " if ord(c) < 32 or 0x7F <= ord(c) <= 0x9F else c for c in text)
