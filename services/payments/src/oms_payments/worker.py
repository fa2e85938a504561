"""The provider worker: carries out the payments' own work requests, one at a time.

The worker consumes the service's own ``...Requested`` events. All events of one order
share a Kafka key, so one order's requests reach the worker in the order they were
recorded: an authorisation before the captures and the cancellation that follow it.
Each request is one unit of work: load the payment, ask the provider (idempotency key
derived from the payment, so a retry or a redelivery never moves money twice), record
the outcome.

Provider timeouts are retried by the consumer runtime with backoff (the error
propagates). When the retry budget (``OMS_RETRY_MAX_ATTEMPTS``) is used up on an
authorisation, the worker decides instead of retrying again: it declines the payment
with ``provider_unavailable`` (so the order is cancelled rather than left waiting).
Captures, voids and refunds are owed, not optional: one that keeps timing out is
dead-lettered with its reason, for operations to replay once the provider is back.
"""

from __future__ import annotations

from decimal import Decimal

from oms_events.contracts import (
    DeclineReason,
    PaymentAuthorizationRequested,
    PaymentCancellationRequested,
    PaymentCaptureRequested,
    PaymentMethod,
    PaymentRefundRequested,
)
from oms_events.envelope import Envelope
from oms_payments.attempts import AttemptLog
from oms_payments.domain import giftcard
from oms_payments.domain import payment as pay
from oms_payments.domain.errors import AmountExceeded, NotFound, Refused
from oms_payments.domain.methods import CaptureMoment, capture_moment
from oms_payments.domain.payment import PaymentState, Phase
from oms_payments.providers.base import (
    AuthorisationRequest,
    AuthorisationResult,
    PaymentProvider,
    ProviderDirectory,
    ProviderTimeout,
)
from oms_payments.streams import Session
from oms_platform.eventstore import UnitOfWork
from oms_platform.logging import get_logger

log = get_logger(__name__)

GIFT_CARD_PROVIDER = "giftcard"
"""Gift cards are the service's own ledger: this is the provider name on their events."""


def cancellation_refund_id(payment_id: str) -> str:
    """The refund id of what a cancellation pays back (one per payment, so idempotent)."""
    return f"rfd-cancel-{payment_id}"[:100]


class ProviderWorker:
    """Authorises, captures, releases and refunds payments through their providers."""

    def __init__(self, providers: ProviderDirectory, attempts: AttemptLog, *, budget: int) -> None:
        self.providers = providers
        self.attempts = attempts
        self.budget = budget

    async def settle(
        self,
        uow: UnitOfWork,
        env: Envelope,
        event: PaymentAuthorizationRequested | PaymentCancellationRequested,
    ) -> None:
        """Bring a payment up to date: authorise it if requested, release it if cancelled.

        Both requests run the same steps, so whichever comes first after a cancellation
        does the whole job and the other finds nothing left to do.
        """
        s = _session(uow, env)
        p = await s.payment(event.payment_id)
        if p.phase is Phase.REQUESTED:
            await self._authorise(s, p)
            p = await s.payment(event.payment_id)
        if p.cancellation and p.phase is Phase.AUTHORISED:
            await self._release(s, p)
        await s.flush()

    async def capture(self, uow: UnitOfWork, env: Envelope, event: PaymentCaptureRequested) -> None:
        """Capture what a shipment (or a delivery, for cash on delivery) made due."""
        s = _session(uow, env)
        p = await s.payment(event.payment_id)
        amount = pay.capture_due(p, event.shipment_id)
        if not amount:
            return
        reference = p.reference or ""
        if p.method is not PaymentMethod.GIFT_CARD:
            done = await self._provider(p).capture(
                reference,
                p.money(amount),
                idempotency_key=f"capture-{p.payment_id}-{event.shipment_id}",
            )
            reference = done.reference
        s.record(pay.captured(p, event.shipment_id, reference))
        await s.flush()

    async def refund(self, uow: UnitOfWork, env: Envelope, event: PaymentRefundRequested) -> None:
        """Pay back a requested refund."""
        s = _session(uow, env)
        p = await s.payment(event.payment_id)
        if event.refund_id not in p.refunds_requested:
            raise NotFound(f"payment {p.payment_id}: no refund {event.refund_id} was requested")
        amount = p.refunds_requested[event.refund_id]
        await self._pay_back(s, p, event.refund_id, amount, event.reason, event.return_id)
        await s.flush()

    # -- steps -----------------------------------------------------------------------------

    async def _authorise(self, s: Session, p: PaymentState) -> None:
        if p.method is PaymentMethod.GIFT_CARD:
            await self._debit_gift_card(s, p)
            return
        if p.cancellation and await self.attempts.count(p.payment_id) == 0:
            # No provider was ever asked: the cancellation prevents the authorisation.
            s.record(pay.prevented(p))
            return
        provider = self._provider(p)
        attempt = await self.attempts.record(p.payment_id)
        request = AuthorisationRequest(
            order_id=p.order_id,
            payment_id=p.payment_id,
            method=p.method,
            amount=p.money(p.amount),
            shopper_email=p.customer_email,
            capture=capture_moment(p.method) is CaptureMoment.AT_ORDER,
        )
        key = f"authorise-{p.payment_id}"
        try:
            result = await provider.authorise(request, idempotency_key=key)
        except ProviderTimeout:
            if attempt < self.budget:
                raise
            log.warning("payment.provider_unavailable", payment_id=p.payment_id, attempts=attempt)
            message = f"{provider.name} gave no answer in {attempt} attempts"
            s.record(pay.declined(p, DeclineReason.PROVIDER_UNAVAILABLE, message))
            return
        if not result.approved or result.reference is None:
            reason = result.decline_reason or DeclineReason.REFUSED
            s.record(pay.declined(p, reason, result.message))
            return
        if result.is_partial(request.amount):
            await _give_back(provider, p.payment_id, result.reference, result)
            message = f"{provider.name} approved only {result.amount} of {request.amount}; released"
            s.record(pay.declined(p, DeclineReason.INSUFFICIENT_FUNDS, message))
            return
        if request.capture and not result.captured:
            # A provider without one-step sales: capture the up-front payment right away.
            await provider.capture(
                result.reference, request.amount, idempotency_key=f"capture-{p.payment_id}-at-order"
            )
        s.record(
            pay.authorised(
                p, provider=provider.name, reference=result.reference, captured=request.capture
            )
        )

    async def _debit_gift_card(self, s: Session, p: PaymentState) -> None:
        if p.cancellation:
            s.record(pay.prevented(p))
            return
        if not p.gift_card_code:
            s.record(pay.declined(p, DeclineReason.REFUSED, "no gift card code was given"))
            return
        card = await s.gift_card(p.gift_card_code)
        try:
            debit = giftcard.debit(
                card, p.money(p.amount), order_id=p.order_id, payment_id=p.payment_id
            )
        except AmountExceeded as refusal:
            s.record(pay.declined(p, DeclineReason.INSUFFICIENT_FUNDS, refusal.reason))
            return
        except (NotFound, Refused) as refusal:
            s.record(pay.declined(p, DeclineReason.REFUSED, refusal.reason))
            return
        s.record(debit)
        s.record(
            pay.authorised(p, provider=GIFT_CARD_PROVIDER, reference=card.code, captured=False)
        )

    async def _release(self, s: Session, p: PaymentState) -> None:
        """Void what is still authorised, refund what was captured (the order was cancelled)."""
        reason = f"order cancelled: {p.cancellation}"
        if p.open_authorisation > 0:
            reference = p.reference or ""
            if p.method is PaymentMethod.GIFT_CARD:
                await self._credit_gift_card(s, p, p.open_authorisation, reason)
            else:
                done = await self._provider(p).void(
                    reference, idempotency_key=f"void-{p.payment_id}"
                )
                reference = done.reference
            s.record(pay.voided(p, reference))
            p = await s.payment(p.payment_id)
        if p.refundable > 0:
            refund_id = cancellation_refund_id(p.payment_id)
            await self._pay_back(s, p, refund_id, p.refundable, reason)

    async def _pay_back(
        self,
        s: Session,
        p: PaymentState,
        refund_id: str,
        amount: Decimal,
        reason: str,
        return_id: str | None = None,
    ) -> None:
        if not pay.refund_allowed(p, refund_id, amount):
            return
        if p.method is PaymentMethod.GIFT_CARD:
            await self._credit_gift_card(s, p, amount, f"refund {refund_id}: {reason}")
            reference = p.gift_card_code or ""
        else:
            done = await self._provider(p).refund(
                p.reference or "", p.money(amount), idempotency_key=f"refund-{refund_id}"
            )
            reference = done.reference
        s.record(pay.refunded(p, refund_id, amount, reference, reason, return_id))

    async def _credit_gift_card(
        self, s: Session, p: PaymentState, amount: Decimal, reason: str
    ) -> None:
        card = await s.gift_card(p.gift_card_code or "")
        s.record(
            giftcard.credit(
                card, amount, order_id=p.order_id, payment_id=p.payment_id, reason=reason
            )
        )

    def _provider(self, p: PaymentState) -> PaymentProvider:
        return self.providers.for_method(p.method)


async def _give_back(
    provider: PaymentProvider, payment_id: str, reference: str, result: AuthorisationResult
) -> None:
    """Release a partial approval: part of the money is no use to an order that needs all
    of it, so the payment is declined (the order is cancelled, or paid another way)."""
    if result.captured:
        key = f"refund-partial-{payment_id}"
        await provider.refund(reference, result.amount, idempotency_key=key)
    else:
        await provider.void(reference, idempotency_key=f"void-{payment_id}")


def _session(uow: UnitOfWork, env: Envelope) -> Session:
    return Session(uow, correlation_id=env.correlation_id, causation_id=str(env.event_id))
