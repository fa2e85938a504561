"""The provider worker: carries out the payments' own work requests, one at a time.

The worker consumes the service's own ``...Requested`` events. All events of one order
share a Kafka key, so one order's requests reach the worker in the order they were
recorded: an authorization before the captures and the cancellation that follow it.
Each request is one unit of work: load the payment, ask the provider (idempotency key
derived from the payment, so a repeat or a redelivery never moves money twice), record
the outcome.

**A provider timeout is not a decline**: the provider may have acted. The worker raises
:class:`~oms_platform.failures.Unavailable`, so the consumer runtime waits it out as
infrastructure (capped backoff, never dead-lettered) and the next attempt repeats the
call with the same key, which returns the provider's first answer. Each attempt reloads
the payment, so a cancellation recorded meanwhile (by the billing consumer, into the
payment's stream) is seen: once the provider answers, what it authorized is voided at
once. A call left unanswered for longer than the reconciliation limit is parked for
reconciliation (:mod:`oms_payments.calls`) instead: the partition moves on, the API and
``/ready`` show the payment, and nothing is recorded that the provider did not say.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from oms_events.contracts import (
    DeclineReason,
    PaymentAuthorizationRequested,
    PaymentCancellationRequested,
    PaymentCaptureRequested,
    PaymentMethod,
    PaymentRefundRequested,
)
from oms_events.contracts.payments import PaymentReleaseRequested
from oms_events.envelope import Envelope
from oms_payments.calls import Call, Operation, ProviderCalls
from oms_payments.domain.commands import (
    CreditGiftCard,
    DebitGiftCard,
    PaymentCommand,
    PreventAuthorization,
    RecordAuthorization,
    RecordCapture,
    RecordDecline,
    RecordRefund,
    RecordVoid,
)
from oms_payments.domain.giftcard import gift_card_decider
from oms_payments.domain.methods import CaptureMoment, capture_moment
from oms_payments.domain.payment import (
    PaymentState,
    Phase,
    capture_due,
    payment_decider,
    refund_due,
    release_due,
)
from oms_payments.providers.base import (
    AuthorizationRequest,
    AuthorizationResult,
    PaymentProvider,
    ProviderDirectory,
    ProviderRefused,
    ProviderTimeout,
)
from oms_payments.streams import Session
from oms_platform.eventstore import UnitOfWork
from oms_platform.failures import Unavailable
from oms_platform.logging import get_logger
from oms_platform.refusal import Refusal

log = get_logger(__name__)

T = TypeVar("T")
Clock = Callable[[], datetime]

GIFT_CARD_PROVIDER = "giftcard"
"""Gift cards are the service's own ledger: this is the provider name on their events."""


def authorization_key(payment_id: str) -> str:
    # Spelled as it was first written: the provider knows the call by this key.
    return f"authorise-{payment_id}"


def cancellation_refund_id(payment_id: str) -> str:
    """The refund id of what a cancellation pays back (one per payment, so idempotent)."""
    return f"rfd-cancel-{payment_id}"[:100]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Parked(Exception):
    """A provider call went unanswered past the reconciliation limit and was parked."""


class ProviderWorker:
    """Authorizes, captures, releases and refunds payments through their providers."""

    def __init__(
        self,
        providers: ProviderDirectory,
        calls: ProviderCalls,
        *,
        reconcile_after: timedelta,
        clock: Clock = utc_now,
    ) -> None:
        self.providers = providers
        self.calls = calls
        self.reconcile_after = reconcile_after
        self.clock = clock

    async def settle(
        self,
        uow: UnitOfWork,
        env: Envelope,
        event: PaymentAuthorizationRequested | PaymentCancellationRequested,
    ) -> None:
        """Bring a payment up to date: authorize it if requested, release it if cancelled.

        Both requests run the same steps, so whichever comes first after a cancellation
        does the whole job and the other finds nothing left to do.
        """
        s = _session(uow, env)
        p = await s.payment(event.payment_id)
        try:
            if p.phase is Phase.REQUESTED:
                await self._authorize(s, p)
                p = await s.payment(event.payment_id)
            if p.cancellation and p.phase is Phase.AUTHORIZED:
                await self._release(s, p)
        except Parked:
            pass  # what the provider did answer is recorded below; the rest is parked
        await s.flush()

    async def capture(self, uow: UnitOfWork, env: Envelope, event: PaymentCaptureRequested) -> None:
        """Capture what a shipment (or a delivery, for cash on delivery) made due."""
        s = _session(uow, env)
        p = await s.payment(event.payment_id)
        amount = capture_due(p, event.shipment_id)
        if not amount:
            return
        reference = p.reference or ""
        if p.method is not PaymentMethod.GIFT_CARD:
            provider = self._provider(p)
            key = f"capture-{p.payment_id}-{event.shipment_id}"
            try:
                done = await self._call(
                    p,
                    Operation.CAPTURE,
                    key,
                    provider,
                    lambda: provider.capture(reference, p.money(amount), idempotency_key=key),
                )
            except Parked:
                return
            reference = done.reference
        _record(s, p, RecordCapture(event.shipment_id, reference))
        await s.flush()

    async def release(self, uow: UnitOfWork, env: Envelope, event: PaymentReleaseRequested) -> None:
        """Release part of an authorization (a partial void; a gift card is credited)."""
        s = _session(uow, env)
        p = await s.payment(event.payment_id)
        amount = release_due(p, event.release_id)
        if not amount:
            return
        reference = p.reference or ""
        if p.method is PaymentMethod.GIFT_CARD:
            reason = f"release {event.release_id}: {event.reason}"
            await self._credit_gift_card(s, p, amount, reason)
        else:
            provider = self._provider(p)
            key = f"void-{p.payment_id}-{event.release_id}"
            try:
                done = await self._call(
                    p,
                    Operation.VOID,
                    key,
                    provider,
                    lambda: provider.void(reference, idempotency_key=key, amount=p.money(amount)),
                )
            except Parked:
                return
            reference = done.reference
        _record(s, p, RecordVoid(reference, release_id=event.release_id))
        await s.flush()

    async def refund(self, uow: UnitOfWork, env: Envelope, event: PaymentRefundRequested) -> None:
        """Pay back a requested refund."""
        s = _session(uow, env)
        p = await s.payment(event.payment_id)
        if event.refund_id not in p.refunds_requested:
            raise Refusal.not_found(
                "refund_not_requested",
                f"payment {p.payment_id}: no refund {event.refund_id} was requested",
            )
        amount = p.refunds_requested[event.refund_id]
        try:
            await self._pay_back(s, p, event.refund_id, amount, event.reason, event.return_id)
        except Parked:
            return
        await s.flush()

    # -- steps -----------------------------------------------------------------------------

    async def _authorize(self, s: Session, p: PaymentState) -> None:
        if p.method is PaymentMethod.GIFT_CARD:
            await self._debit_gift_card(s, p)
            return
        key = authorization_key(p.payment_id)
        if p.cancellation and await self.calls.attempts(key) == 0:
            # No provider was ever asked: the cancellation prevents the authorization.
            _record(s, p, PreventAuthorization(p.cancellation))
            return
        provider = self._provider(p)
        request = AuthorizationRequest(
            order_id=p.order_id,
            payment_id=p.payment_id,
            method=p.method,
            amount=p.money(p.amount),
            shopper_email=p.customer_email,
            capture=capture_moment(p.method) is CaptureMoment.AT_ORDER,
        )
        result = await self._call(
            p,
            Operation.AUTHORIZE,
            key,
            provider,
            lambda: provider.authorize(request, idempotency_key=key),
        )
        if not result.approved or result.reference is None:
            reason = result.decline_reason or DeclineReason.REFUSED
            _record(s, p, RecordDecline(reason, result.message))
            return
        if result.is_partial(request.amount):
            await self._give_back(p, provider, result.reference, result)
            message = f"{provider.name} approved only {result.amount} of {request.amount}; released"
            _record(s, p, RecordDecline(DeclineReason.INSUFFICIENT_FUNDS, message))
            return
        if request.capture and not result.captured:
            # A provider without one-step sales: capture the up-front payment right away.
            capture_key = f"capture-{p.payment_id}-at-order"
            await self._call(
                p,
                Operation.CAPTURE,
                capture_key,
                provider,
                lambda: provider.capture(
                    result.reference or "", request.amount, idempotency_key=capture_key
                ),
            )
        _record(s, p, RecordAuthorization(provider.name, result.reference, request.capture))

    async def _debit_gift_card(self, s: Session, p: PaymentState) -> None:
        if p.cancellation:
            _record(s, p, PreventAuthorization(p.cancellation))
            return
        if not p.gift_card:
            _record(s, p, RecordDecline(DeclineReason.REFUSED, "no gift card token was given"))
            return
        card = await s.gift_card(p.gift_card)
        debit = DebitGiftCard(p.money(p.amount), order_id=p.order_id, payment_id=p.payment_id)
        try:
            debited = gift_card_decider.decide(debit, card)
        except Refusal as refusal:
            # The card is the provider here: its refusal is the payment's decline (the
            # reasons name neither the card nor its balance).
            reason = (
                DeclineReason.INSUFFICIENT_FUNDS
                if refusal.code == "amount_exceeded"
                else DeclineReason.REFUSED
            )
            _record(s, p, RecordDecline(reason, refusal.reason))
            return
        s.record(debited)
        _record(s, p, RecordAuthorization(GIFT_CARD_PROVIDER, card.card))

    async def _release(self, s: Session, p: PaymentState) -> None:
        """Void what is still authorized, refund what was captured (the order was cancelled)."""
        reason = f"order cancelled: {p.cancellation}"
        if p.open_authorization > 0:
            reference = p.reference or ""
            if p.method is PaymentMethod.GIFT_CARD:
                await self._credit_gift_card(s, p, p.open_authorization, reason)
            else:
                provider = self._provider(p)
                key = f"void-{p.payment_id}"
                done = await self._call(
                    p,
                    Operation.VOID,
                    key,
                    provider,
                    lambda: provider.void(reference, idempotency_key=key),
                )
                reference = done.reference
            _record(s, p, RecordVoid(reference))
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
        if not refund_due(p, refund_id, amount):
            return
        if p.method is PaymentMethod.GIFT_CARD:
            await self._credit_gift_card(s, p, amount, f"refund {refund_id}: {reason}")
            reference = p.gift_card or ""
        else:
            provider = self._provider(p)
            key = f"refund-{refund_id}"
            done = await self._call(
                p,
                Operation.REFUND,
                key,
                provider,
                lambda: provider.refund(p.reference or "", p.money(amount), idempotency_key=key),
            )
            reference = done.reference
        _record(s, p, RecordRefund(refund_id, amount, reference, reason, return_id))

    async def _credit_gift_card(
        self, s: Session, p: PaymentState, amount: Decimal, reason: str
    ) -> None:
        card = await s.gift_card(p.gift_card or "")
        credit = CreditGiftCard(amount, order_id=p.order_id, payment_id=p.payment_id, reason=reason)
        s.record(gift_card_decider.decide(credit, card))

    async def _give_back(
        self,
        p: PaymentState,
        provider: PaymentProvider,
        reference: str,
        result: AuthorizationResult,
    ) -> None:
        """Release a partial approval: part of the money is no use to an order that needs
        all of it, so the payment is declined (the order is cancelled, or paid another way)."""
        if result.captured:
            key = f"refund-partial-{p.payment_id}"
            await self._call(
                p,
                Operation.REFUND,
                key,
                provider,
                lambda: provider.refund(reference, result.amount, idempotency_key=key),
            )
        else:
            key = f"void-{p.payment_id}"
            await self._call(
                p,
                Operation.VOID,
                key,
                provider,
                lambda: provider.void(reference, idempotency_key=key),
            )

    # -- one provider call -----------------------------------------------------------------

    async def _call(
        self,
        p: PaymentState,
        operation: Operation,
        key: str,
        provider: PaymentProvider,
        call: Callable[[], Awaitable[T]],
    ) -> T:
        """Make one provider call, logged before it is made.

        A timeout raises :class:`Unavailable` (the runtime waits and repeats the whole unit
        of work, so this call with the same key) until the call has gone unanswered for
        ``reconcile_after``; then it is parked and :class:`Parked` is raised. A refusal of
        the operation itself can never succeed: a :class:`Refusal` (dead-lettered).
        """
        target = Call(key, p.payment_id, p.order_id, operation, provider.name)
        record = await self.calls.attempt(target, self.clock())
        try:
            answer = await call()
        except ProviderTimeout as timeout:
            waited = self.clock() - record.first_attempt_at
            what = f"{provider.name} gave no answer to {operation.value} {key}"
            if waited < self.reconcile_after:
                raise Unavailable(
                    f"{what} (attempt {record.attempts}, unanswered for "
                    f"{waited.total_seconds():.0f}s)"
                ) from timeout
            if record.parked_at is None:
                reason = (
                    f"{what} in {record.attempts} attempts over {waited.total_seconds():.0f}s; "
                    "whether money moved is unknown until reconciled with the provider"
                )
                await self.calls.park(key, reason, self.clock())
                log.error(
                    "payment.parked_for_reconciliation",
                    payment_id=p.payment_id,
                    operation=operation.value,
                    idempotency_key=key,
                    attempts=record.attempts,
                )
            raise Parked(key) from timeout
        except ProviderRefused as refused:
            raise Refusal("provider_refused", f"{provider.name}: {refused}") from refused
        if record.parked_at is not None:
            await self.calls.answered(key)
            log.info("payment.reconciled_by_answer", payment_id=p.payment_id, idempotency_key=key)
        return answer

    def _provider(self, p: PaymentState) -> PaymentProvider:
        try:
            return self.providers.for_method(p.method)
        except ProviderRefused as refused:
            raise Refusal("no_provider", str(refused)) from refused


def _record(s: Session, p: PaymentState, command: PaymentCommand) -> None:
    s.record(payment_decider.decide(command, p))


def _session(uow: UnitOfWork, env: Envelope) -> Session:
    return Session(uow, correlation_id=env.correlation_id, causation_id=str(env.event_id))
