"""The payments service's streams, and a session that loads them and appends to them.

* ``payment-<payment id>``: one payment (requested, authorised, captured, voided, refunded);
* ``payments-order-<order id>``: the order's billing (lines, payments, shipments billed,
  cancellation);
* ``giftcard-<code>``: a gift card's balance.

A :class:`Session` is the load -> decide -> append cycle of one unit of work: it loads
each stream once, keeps its version, evolves the loaded state as decided events are
recorded (so a later decision in the same unit of work sees them), and appends all of
them in one atomic append, each stream checked against the version it was loaded at.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from oms_events.base import Event
from oms_events.contracts import (
    GiftCardCredited,
    GiftCardDebited,
    GiftCardIssued,
    OrderBillingCancelled,
    OrderBillingOpened,
    ShipmentBilled,
)
from oms_events.envelope import Envelope
from oms_events.registry import envelope_for, registry
from oms_payments.domain import billing, fold, giftcard, payment
from oms_payments.domain.billing import Billing
from oms_payments.domain.giftcard import GiftCard
from oms_payments.domain.payment import PaymentState
from oms_platform.eventstore import UnitOfWork

PRODUCER = "payments"
ACTOR = "service:payments"

S = TypeVar("S")


def payment_stream(payment_id: str) -> str:
    return f"payment-{payment_id}"


def billing_stream(order_id: str) -> str:
    return f"payments-order-{order_id}"


def gift_card_stream(code: str) -> str:
    return f"giftcard-{code}"


def stream_for(event: Event) -> str:
    """The stream an event of this service belongs to."""
    match event:
        case OrderBillingOpened() | OrderBillingCancelled() | ShipmentBilled():
            return billing_stream(event.order_id)
        case GiftCardIssued() | GiftCardDebited() | GiftCardCredited():
            return gift_card_stream(event.code)
    payment_id = getattr(event, "payment_id", None)
    if not isinstance(payment_id, str):
        raise TypeError(f"{type(event).__name__} belongs to no payments stream")
    return payment_stream(payment_id)


class Session:
    """Streams read in one unit of work and the events decided on them."""

    def __init__(
        self,
        uow: UnitOfWork,
        *,
        correlation_id: str,
        causation_id: str | None,
        actor: str = ACTOR,
    ) -> None:
        self.uow = uow
        self.correlation_id = correlation_id
        self.causation_id = causation_id
        self.actor = actor
        self._states: dict[str, Any] = {}
        self._evolve: dict[str, Callable[[Any, Event], Any]] = {}
        self._versions: dict[str, int] = {}
        self._staged: list[Envelope] = []

    async def payment(self, payment_id: str) -> PaymentState:
        initial = PaymentState(payment_id=payment_id)
        return await self._load(payment_stream(payment_id), initial, payment.evolve)

    async def billing(self, order_id: str) -> Billing:
        return await self._load(billing_stream(order_id), Billing(order_id), billing.evolve)

    async def gift_card(self, code: str) -> GiftCard:
        return await self._load(gift_card_stream(code), GiftCard(code), giftcard.evolve)

    async def payments_of(
        self, order: Billing, extra: Iterable[str] = ()
    ) -> dict[str, PaymentState]:
        """Every payment of the order (and of ``extra`` ids), by payment id."""
        ids = dict.fromkeys([*order.payment_ids, *extra])
        return {pid: await self.payment(pid) for pid in ids}

    async def _load(self, stream_id: str, initial: S, evolve: Callable[[S, Event], S]) -> S:
        if stream_id not in self._states:
            records = await self.uow.read_stream(stream_id)
            events = [registry.parse(rec.envelope) for rec in records]
            self._states[stream_id] = fold(evolve, events, initial)
            self._evolve[stream_id] = evolve
            self._versions[stream_id] = records[-1].envelope.stream_version if records else 0
        found: S = self._states[stream_id]
        return found

    def record(self, events: Iterable[Event]) -> None:
        """Stage decided events; the state of their (loaded) streams moves on at once."""
        for event in events:
            stream_id = stream_for(event)
            if stream_id not in self._states:
                raise KeyError(f"decided an event for {stream_id} without loading it")
            self._versions[stream_id] += 1
            self._states[stream_id] = self._evolve[stream_id](self._states[stream_id], event)
            self._staged.append(
                envelope_for(
                    event,
                    stream_id=stream_id,
                    stream_version=self._versions[stream_id],
                    correlation_id=self.correlation_id,
                    causation_id=self.causation_id,
                    actor=self.actor,
                    producer=PRODUCER,
                )
            )

    async def flush(self) -> list[Envelope]:
        """Append everything staged in one atomic append (a no-op when nothing was)."""
        staged, self._staged = self._staged, []
        if staged:
            await self.uow.append(staged)
        return staged
